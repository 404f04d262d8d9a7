"""What the benchmark scripts share: the C reference programs in benchmarks/c/, compiled into
build/bench/ when missing or older than their source, CPU pinning with taskset, the median
(min-max) of rounds, writing a result into results/, and the environment for a child process
that must run the same netlab as the script."""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "benchmarks" / "c"
BUILD = ROOT / "build" / "bench"


def build(name: str) -> Path:
    """build/bench/NAME from benchmarks/c/NAME.c, compiled when missing or out of date."""
    src, exe = CSRC / f"{name}.c", BUILD / name
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        BUILD.mkdir(parents=True, exist_ok=True)
        cmd = ["cc", "-O2", "-o", str(exe), str(src)]
        print("building:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return exe


def pinned(cpu: Optional[int], cmd: list[str]) -> list[str]:
    """`cmd` run on one CPU (taskset), or as it is when cpu is None."""
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def netlab_env(**extra: str) -> dict[str, str]:
    """This process's environment with the directory it imported netlab from first on
    PYTHONPATH, so a server or client it starts (`python -m netlab ...`) runs the same build:
    the virtual environment's installed package, a `pip install --target` build, or an
    in-tree one alike."""
    import netlab

    where = str(Path(netlab.__file__).resolve().parent.parent)
    rest = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=where + (os.pathsep + rest if rest else ""), **extra)


def spread(values: list[float], fmt: str = ".2f") -> str:
    """The median of `values`, then their minimum and maximum: "7.07 (5.89-8.23)"."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def run_command() -> str:
    """The command line that started this script, as a reader would retype it: the script's
    path from the repository root, its arguments, and PYTHONPATH when one was set."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(Path(__file__).resolve().parent.parent))
    except ValueError:
        shown = sys.argv[0]
    path = os.environ.get("PYTHONPATH")
    prefix = f"PYTHONPATH={shlex.quote(path)} " if path else ""
    return f"{prefix}python {shlex.join([shown, *sys.argv[1:]])}"


def record(out_dir: Optional[str], name: str, report: str, data: dict[str, Any]) -> None:
    """OUT_DIR/NAME.md (the report, then the command that made it) and OUT_DIR/NAME.json, for
    benchmarks/NAME.py; nothing when out_dir is None."""
    if not out_dir:
        return
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    command = run_command()
    (out / f"{name}.md").write_text(report + f"\nCommand: `{command}`\n")
    (out / f"{name}.json").write_text(json.dumps(data, indent=2))
