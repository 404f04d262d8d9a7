"""Runs the notebooks in their full configuration and writes HTML pages with the outputs.

    pip install ".[notebook]"
    python notebooks/render.py            # -> notebooks/rendered/*.html

The committed .ipynb files stay output-free (the tests check); open the HTML in a browser to
see a full run's tables and plots. The full threaded-vs-epoll sweep takes a few minutes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

HERE = Path(__file__).resolve().parent


def render(name: str, out: Path) -> Path:
    nb = nbformat.read(HERE / name, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    html, _ = HTMLExporter().from_notebook_node(nb)
    target = out / name.replace(".ipynb", ".html")
    target.write_text(html)
    return target


def main() -> None:
    os.environ.pop("NETLAB_NOTEBOOK_SCALE", None)  # full configuration
    out = HERE / "rendered"
    out.mkdir(exist_ok=True)
    for name in sys.argv[1:] or ["quickstart.ipynb", "threaded_vs_epoll.ipynb"]:
        print("wrote", render(name, out), flush=True)


if __name__ == "__main__":
    main()
