"""The notebooks run, small, from a clean state; they are committed without outputs."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    os.environ["NETLAB_NOTEBOOK_SCALE"] = "small"  # the kernel inherits it
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    finally:
        del os.environ["NETLAB_NOTEBOOK_SCALE"]
    return nb


def outputs(nb: nbformat.NotebookNode, mime: str) -> list:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if mime in o.get("data", {})]


@pytest.mark.timeout(600)
def test_threaded_vs_epoll_runs_and_draws_every_figure() -> None:
    nb = execute("threaded_vs_epoll.ipynb")
    # Throughput (one per message size), cost per request, threads and memory, Little's law,
    # the idle crowd, the stall.
    assert len(outputs(nb, "image/png")) == 6
    conclusions = outputs(nb, "text/markdown")[-1]
    assert "responses/s" in conclusions and "corrected p99" in conclusions
    assert "Idle connections" in conclusions and "Little's law" in conclusions
    assert "nan" not in conclusions.lower() and "inf " not in conclusions.lower()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "kernel:" in printed and "pinning:" in printed  # the setup is printed


# A number standing alone (not part of a word such as p99, C10K or x2).
NUMBER = re.compile(r"(?<![A-Za-z_.\d])\d+(?:[.,]\d+)*(?![A-Za-z_\d])")


def literal_text(source: str) -> list[str]:
    """The text a cell's code writes itself: string constants and the literal parts of
    f-strings, not what their {...} fields format (nor their format specs)."""
    texts: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    texts.append(part.value)
                elif isinstance(part, ast.FormattedValue):
                    visit(part.value)  # its expression may hold strings; its spec is format
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append(node.value)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return texts


def test_the_conclusions_type_no_number_of_their_own() -> None:
    """Every figure in the conclusions is formatted from the run's data: the text written
    in the cell holds no number."""
    nb = nbformat.read(NOTEBOOKS / "threaded_vs_epoll.ipynb", as_version=4)
    cells = [c for c in nb.cells if "conclusion" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    typed = [(text, NUMBER.findall(text)) for text in literal_text(cells[0].source)]
    assert [t for t in typed if t[1]] == []


def test_the_number_check_catches_typed_numbers() -> None:
    found = [NUMBER.findall(t) for t in literal_text(
        'x = f"p99 was {v:.2f} ms, C10K, x2, about 42 ms or 1,000/s or 0.5 s"')]
    assert sum(found, []) == ["42", "1,000", "0.5"]


@pytest.mark.timeout(300)
def test_quickstart_runs_and_plots_the_timeline() -> None:
    nb = execute("quickstart.ipynb")
    assert len(outputs(nb, "image/png")) == 1
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "bob received: <alice> hello bob, this is alice" in printed
    assert "Speed: " in printed


@pytest.mark.parametrize("name", ["quickstart.ipynb", "threaded_vs_epoll.ipynb"])
def test_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
