"""What the benchmark scripts share: the C reference programs in benchmarks/c/, compiled into
build/bench/ when missing or older than their source, and CPU pinning with taskset."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

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
