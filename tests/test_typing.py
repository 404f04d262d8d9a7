"""The installed package is typed: mypy --strict accepts correct use and flags a wrong one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GOOD = """
import netlab

server: netlab.Server = netlab.PingPongServer(port=0, model="epoll", max_line=1024)
with server:
    port: int = server.port
    stats: netlab.ServerStats = server.stats()
    active: int = stats["connections_active"]
"""

BAD = """
import netlab

port: str = netlab.EchoServer(port=0).port
"""


def run_mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "use_netlab.py"
    script.write_text(source)
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


def test_correct_use_type_checks(tmp_path: Path) -> None:
    result = run_mypy(tmp_path, GOOD)
    assert result.returncode == 0, result.stdout


def test_wrong_use_is_flagged(tmp_path: Path) -> None:
    result = run_mypy(tmp_path, BAD)
    assert result.returncode == 1
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in result.stdout
