"""The engine's option tables made into Python signatures, docstrings and help text.

Every options struct in C++ has one table (name, type, default, range, unit, help); the
module functions ``_core.server_options()``, ``_core.load_options()``,
``_core.line_client_options()`` and ``_core.apps()`` return its rows as dicts. These helpers
turn rows into what Python users read, so no default or range is written twice.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

_KINDS: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str, "bytes": bytes}


def num(value: float) -> str:
    """1048576 rather than 1.04858e+06; fractions as they are."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def range_text(option: dict[str, Any], joiner: str = " to ") -> str:
    """"1 to 65,535 bytes", or "" for options without a numeric range."""
    if option["choices"] or option["type"] not in ("int", "float"):
        return ""
    if option["max"] <= option["min"]:
        return ""
    unit = f" {option['unit']}" if option["unit"] else ""
    return f"{num(option['min'])}{joiner}{num(option['max'])}{unit}"


def none_note(option: dict[str, Any]) -> str:
    """What None (or 0) means for a number that takes it: "(None or 0: never)"."""
    if not option["none_allowed"] or option["type"] not in ("int", "float"):
        return ""
    note = str(option["note"])
    if note.startswith("(0: "):
        return "(None or 0: " + note[4:]
    return "(None: no limit or never)"


def option_text(option: dict[str, Any]) -> str:
    """One line of a generated docstring: what the option does, its range and default."""
    parts = [option["help"]]
    if option["choices"]:
        parts.append("one of " + ", ".join(option["choices"]))
    elif range_text(option):
        parts.append(range_text(option))
    if none_note(option):
        parts.append(none_note(option)[1:-1])
    parts.append("required" if option["required"] else f"default {option['default']!r}")
    return "; ".join(parts)


def markdown_table(options: list[dict[str, Any]]) -> list[str]:
    """A Markdown table of options: name, default, valid values, what it does."""
    rows = ["| option | default | range | what it does |", "| --- | --- | --- | --- |"]
    for o in options:
        if o["choices"]:
            valid = ", ".join(o["choices"])
        elif range_text(o):
            valid = range_text(o)
        else:
            valid = o["unit"] or o["type"]
        default = "required" if o["required"] else (
            "None" if o["default"] is None else f"{o['default']!r}")
        note = f" {none_note(o)}" if none_note(o) else ""
        rows.append(f"| `{o['name']}` | {default} | {valid} | {o['help']}{note} |")
    return rows


def keyword(option: dict[str, Any]) -> inspect.Parameter:
    """The keyword-only parameter for one option, with its engine default."""
    annotation: Any = _KINDS[option["type"]]
    if option["none_allowed"]:
        annotation = Optional[annotation]
    return inspect.Parameter(option["name"], inspect.Parameter.KEYWORD_ONLY,
                             default=option["default"], annotation=annotation)


def describe(init: Callable[..., None], cls: type, leading: list[inspect.Parameter],
             options: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> None:
    """Gives ``init`` the signature ``leading`` + every option as a keyword, and ``cls`` a
    docstring section listing them, so ``help()``, Jupyter and ``inspect.signature`` show
    each option with its default. Keyword-only parameters ``init`` declares itself (a
    subclass's extras) are kept."""
    params = list(leading)
    lines = ["", "    Options (from the engine's tables):"]
    for option in options:
        if option["name"] in skip:
            continue
        params.append(keyword(option))
        lines.append(f"        {option['name']}: {option_text(option)}.")
    names = {p.name for p in params}
    for name, param in inspect.signature(init).parameters.items():
        if param.kind is inspect.Parameter.KEYWORD_ONLY and name not in names:
            params.append(param)
    init.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n" + "\n".join(lines) + "\n"


def positional(name: str, default: Any = inspect.Parameter.empty,
               annotation: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default,
                             annotation=annotation)
