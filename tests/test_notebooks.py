"""The notebooks run, small, from a clean state; they are committed without outputs."""

from __future__ import annotations

import os
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
    # Throughput and latency (one each per message size), CPU, threads/RSS, syscalls, stall.
    assert len(outputs(nb, "image/png")) == 6
    conclusions = outputs(nb, "text/markdown")[-1]
    assert "responses/s" in conclusions and "corrected open-loop p99" in conclusions
    assert "nan" not in conclusions.lower()


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
