"""netlab/_core.pyi is what type checkers and editors believe about the engine; these tests
hold it to the built module, and netlab/_types.py to the engine's record tables."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import netlab
from netlab import _core, _schema

STUB = Path(netlab.__file__).with_name("_core.pyi")


def _stub() -> dict[str, ast.AST]:
    tree = ast.parse(STUB.read_text())
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


def _stub_params(fn: ast.FunctionDef) -> list[str]:
    """Parameter names as a signature shows them; ``*args``/``**kw`` as ``*``/``**``."""
    a = fn.args
    plain = a.posonlyargs + a.args
    out = [p.arg + ("=" if i >= len(plain) - len(a.defaults) else "")
           for i, p in enumerate(plain)]
    if a.vararg:
        out.append("*")
    out += [p.arg + ("=" if d is not None else "") for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append("**")
    return out


def _split_top(text: str) -> list[str]:
    """Splits on commas outside brackets and quotes."""
    parts, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    if current.strip():
        parts.append(current)
    return parts


def _native_params(obj: Any) -> list[str]:
    """Parameter names from pybind11's signature line: ``f(self: X, a: int = 1, **kwargs)``."""
    first = (obj.__doc__ or "").strip().splitlines()[0]
    inside = first[first.index("(") + 1:first.rindex(")")]
    out = []
    for part in _split_top(inside):
        part = part.strip()
        if part.startswith("**"):
            out.append("**")
        elif part.startswith("*"):
            out.append("*")
        else:
            out.append(part.split(":")[0].split("=")[0].strip() + ("=" if "=" in part else ""))
    return out


def _public(names: list[str]) -> set[str]:
    return {n for n in names if not n.startswith("__") and not n.startswith("_pybind11")}


def test_the_stub_names_exactly_what_the_module_has() -> None:
    stub = _stub()
    module = _public(dir(_core)) | {"__version__"}
    assert set(stub) == module, (f"only in the stub: {sorted(set(stub) - module)}; "
                                 f"only in the module: {sorted(module - set(stub))}")


@pytest.mark.parametrize("name", sorted(n for n, node in _stub().items()
                                        if isinstance(node, ast.FunctionDef)))
def test_module_functions_take_the_stubs_parameters(name: str) -> None:
    node = _stub()[name]
    assert isinstance(node, ast.FunctionDef)
    assert _native_params(getattr(_core, name)) == _stub_params(node)


@pytest.mark.parametrize("name", sorted(n for n, node in _stub().items()
                                        if isinstance(node, ast.ClassDef)))
def test_classes_have_the_stubs_bases_methods_and_parameters(name: str) -> None:
    node = _stub()[name]
    assert isinstance(node, ast.ClassDef)
    cls = getattr(_core, name)
    assert [ast.unparse(b) for b in node.bases] == [
        "NamedTuple" if issubclass(cls, tuple) else b.__name__ for b in cls.__bases__
        if b is not object and b.__name__ != "pybind11_object"]
    if not type(cls).__module__.startswith("pybind11"):
        return  # an exception or Frame, made by the engine but plain Python classes
    members = {n: m for n, m in ((m.name, m) for m in node.body
                                 if isinstance(m, ast.FunctionDef))}
    init = vars(cls).get("__init__")
    constructible = init is not None and (init.__doc__ or "").startswith("__init__(")
    native = _public(list(vars(cls))) | ({"__init__"} if constructible else set())
    assert set(members) == native, name
    for member, fn in members.items():
        attr = vars(cls)[member]
        is_property = any(ast.unparse(d) == "property" for d in fn.decorator_list)
        assert is_property == isinstance(attr, property), (name, member)
        if not is_property:
            assert _native_params(attr) == _stub_params(fn), (name, member)


def test_types_module_matches_the_engines_record_tables() -> None:
    assert _schema.TYPES_PATH.read_text() == _schema.render(), \
        "netlab/_types.py is out of date: run python -m netlab._schema"


def test_records_cross_with_exactly_their_generated_fields() -> None:
    """What the engine returns has the keys its generated type declares, no more."""
    records = _core.records()
    with netlab.ChatServer(port=0) as chat:
        stats = chat.stats()
    assert set(stats) == {c[0] for r in ("ServerStats", "ChatStats")
                          for c in records[r]["columns"]}
    gen = netlab.LoadGenerator("127.0.0.1", chat.port, requests=1, duration=None)
    assert set(gen.poll()) == {c[0] for c in records["LoadProgress"]["columns"]}
    fields = set(inspect.signature(netlab.LoadResult).parameters) - {"settings"}
    assert fields == {c[0] for c in records["LoadResultFields"]["columns"]}


def test_the_version_is_written_once() -> None:
    assert _core.__version__ == netlab.__version__
    try:
        installed = importlib.metadata.version("netlab")
    except importlib.metadata.PackageNotFoundError:
        return  # run from the source tree
    if Path(netlab.__file__).resolve().parent == Path(__file__).resolve().parents[1] / \
            "python" / "netlab":
        return  # the source tree shadows whatever is installed
    assert installed == netlab.__version__


def test_schema_check_command() -> None:
    run = subprocess.run([sys.executable, "-m", "netlab._schema", "--check"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
