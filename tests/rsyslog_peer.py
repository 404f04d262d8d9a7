"""rsyslog as a real peer: rsyslogd in the foreground with a configuration of the test's own
(never the system's service), on a loopback port, writing what it receives to a file."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def available() -> bool:
    return Path(RSYSLOGD).exists()


class Rsyslog:
    """imtcp on ``port`` (0: a free one) to omfile ``out`` (one message per line, its MSG
    part only), or, with ``forward_to``, to omfwd over TCP, octet-counted, in RFC 5424."""

    def __init__(self, workdir: Path, port: int = 0, forward_to: Optional[int] = None) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.out = self.dir / "received.log"
        if port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        action = (f'action(type="omfwd" target="127.0.0.1" port="{forward_to}" protocol="tcp" '
                  f'TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")'
                  if forward_to else
                  f'action(type="omfile" file="{self.out}" template="msgonly")')
        (self.dir / "rsyslog.conf").write_text(f"""
global(workDirectory="{self.dir}")
module(load="imtcp")
input(type="imtcp" port="{port}" address="127.0.0.1")
template(name="msgonly" type="string" string="%msg%\\n")
{action}
""")
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> "Rsyslog":
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.dir / "rsyslog.conf"), "-i", str(self.dir / "pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("rsyslogd exited: " +
                                       self.proc.stderr.read().decode(errors="replace")
                                       if self.proc.stderr else "rsyslogd exited")
                time.sleep(0.05)
        raise RuntimeError(f"rsyslogd is not listening on {self.port}")

    def stop(self) -> None:
        """SIGTERM, as a service restart does: rsyslog writes out what it has read."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def lines(self) -> list[str]:
        if not self.out.exists():
            return []
        return [line for line in self.out.read_text(errors="replace").split("\n") if line]

    def __enter__(self) -> "Rsyslog":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
