"""Writes netlab/_types.py from the engine's record tables (``_core.records()``).

Every dict the engine returns (server stats, load results, progress) is built in C++ from a
table of columns; this renders each table as a Python type, so a column added in C++ appears
in Python's types, and ``tests/test_registry.py`` fails until the file is regenerated::

    python -m netlab._schema          # rewrite python/netlab/_types.py
    python -m netlab._schema --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from netlab import _core

TYPES_PATH = Path(__file__).with_name("_types.py")

_HEADER = '''"""Types of the records the engine returns, generated from its column tables.

Do not edit: run ``python -m netlab._schema`` after changing a table in
cpp/netlab/bindings/ (a test fails while this file and the engine disagree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

'''

_DEFAULTS = {"int": "0", "float": "0.0", "bool": "False", "str": '""'}


def _default(type_name: str) -> str:
    if type_name in _DEFAULTS:
        return _DEFAULTS[type_name]
    factory = type_name.split("[", 1)[0]
    if factory not in ("dict", "list"):
        raise ValueError(f"no default for a column of type {type_name}")
    return f"field(default_factory={factory})"


def _render(name: str, record: dict[str, Any]) -> list[str]:
    """A TypedDict, or for a name ending in Fields a dataclass whose fields all default to
    zero (a base for a richer Python class)."""
    is_dataclass = name.endswith("Fields")
    base = record["base"] or ("" if is_dataclass else "TypedDict")
    lines = ["", ""]
    if is_dataclass:
        lines.append("@dataclass")
    lines += [f"class {name}({base}):" if base else f"class {name}:",
              f'    """{record["help"]}"""', ""]
    for column, type_name, help_text in record["columns"]:
        if not column.isidentifier():
            raise ValueError(f"{name}.{column} is not a Python identifier")
        default = f" = {_default(type_name)}" if is_dataclass else ""
        lines += [f"    {column}: {type_name}{default}", f'    """{help_text}."""']
    return lines


def render() -> str:
    """The text _types.py should hold for the engine this module was built with."""
    records: dict[str, Any] = dict(_core.records())
    # Bases first, so each class is defined before a record that extends it.
    order = sorted(records, key=lambda n: (bool(records[n]["base"]), n))
    lines = _HEADER.rstrip("\n").split("\n")
    for name in order:
        lines += _render(name, records[name])
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m netlab._schema", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    text = render()
    current = TYPES_PATH.read_text() if TYPES_PATH.exists() else ""
    if args.check:
        if current != text:
            print(f"{TYPES_PATH.name} is out of date: run python -m netlab._schema",
                  file=sys.stderr)
            return 1
        return 0
    if current != text:
        TYPES_PATH.write_text(text)
        print(f"wrote {TYPES_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
