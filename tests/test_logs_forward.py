"""LogServer's forwarding, with rsyslog as the real upstream (and as a real sender through
omfwd), and with another LogServer upstream: at least once across rsyslog restarts,
duplicates counted; exactly once into a LogServer; failover; resume after a restart."""

from __future__ import annotations

import collections
import socket
import threading
import time
from pathlib import Path

import pytest

import netlab
from conftest import free_port, wait_until
from rsyslog_peer import Rsyslog, available

pytestmark = [pytest.mark.skipif(not available(), reason="rsyslogd is not installed"),
              pytest.mark.timeout(120)]


class Sender(threading.Thread):
    """Sends `count` text-protocol logs "msg <n>" at about `rate` a second."""

    def __init__(self, port: int, count: int, rate: float, prefix: str = "msg") -> None:
        super().__init__(daemon=True)
        self.port, self.count, self.rate, self.prefix = port, count, rate, prefix

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            start = time.monotonic()
            batch = 50
            for first in range(0, self.count, batch):
                lines = b"".join(b"LOG|INFO||%s %d\n" % (self.prefix.encode(), i)
                                 for i in range(first, min(first + batch, self.count)))
                s.sendall(lines)
                delay = start + (first + batch) / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass


def test_forward_to_rsyslog_loses_nothing_across_restarts(tmp_path: Path) -> None:
    with Rsyslog(tmp_path / "rsyslog") as rsyslog, \
            netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "d"),
                             forward=f"syslog://127.0.0.1:{rsyslog.port}",
                             forward_options={"settle": 0.5}) as server:
        count = 6000
        sender = Sender(server.port, count, rate=2000)
        sender.start()
        for _ in range(2):  # two service restarts while logs flow
            time.sleep(0.8)
            rsyslog.restart()
        sender.join(30)
        assert server.drain_forwarding(30), server.stats()["forward"]
        rsyslog.stop()  # rsyslog writes out everything it has read
        lines = rsyslog.lines()
        seen = collections.Counter(lines)
        missing = [i for i in range(count) if f"msg {i}" not in seen]
        assert not missing, f"{len(missing)} logs never reached rsyslog, first {missing[:5]}"
        duplicates = len(lines) - len(seen)
        forward = server.stats()["forward"]
        # Every duplicate rsyslog wrote was a log the forwarder sent again, and said so.
        assert duplicates <= forward["resent"], (duplicates, forward)
        assert forward["disconnects"] >= 2 and forward["position"] >= count


def test_forward_fails_over_to_the_next_upstream(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    with Rsyslog(tmp_path / "rsyslog") as rsyslog, \
            netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "d"),
                             forward=[f"syslog://127.0.0.1:{dead}",
                                      f"syslog://127.0.0.1:{rsyslog.port}"],
                             forward_options={"settle": 0.2}) as server:
        Sender(server.port, 500, rate=1e6).run()
        assert server.drain_forwarding(20)
        forward = server.stats()["forward"]
        assert forward["active"] == 1 and forward["connect_failures"] >= 1
        rsyslog.stop()
        assert set(rsyslog.lines()) == {f"msg {i}" for i in range(500)}


def test_forward_to_logserver_is_exactly_once(tmp_path: Path) -> None:
    upstream_port = free_port()
    upstream_dir = str(tmp_path / "upstream")

    def upstream() -> netlab.LogServer:
        return netlab.LogServer(upstream_port, query_port=None, syslog_port=None,
                                data_dir=upstream_dir, ack="durable")

    up = upstream().start()
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "d"),
                          forward=f"logs://127.0.0.1:{upstream_port}") as server:
        count = 6000
        sender = Sender(server.port, count, rate=3000)
        sender.start()
        for _ in range(2):  # the upstream goes away mid-stream and comes back
            time.sleep(0.6)
            up.stop()
            time.sleep(0.3)
            up = upstream().start()
        sender.join(30)
        assert server.drain_forwarding(30), server.stats()["forward"]
        forward = server.stats()["forward"]
    up.flush()
    rows = up.query(limit=count * 2)
    up.stop()
    messages = collections.Counter(r["message"] for r in rows)
    assert len(rows) == count and set(messages) == {f"msg {i}" for i in range(count)}
    assert forward["disconnects"] >= 2


def test_forwarding_resumes_where_it_stopped(tmp_path: Path) -> None:
    rsyslog = Rsyslog(tmp_path / "rsyslog")  # not running yet: the upstream is down
    data = str(tmp_path / "d")
    options = dict(query_port=None, syslog_port=None, data_dir=data,
                   forward=f"syslog://127.0.0.1:{rsyslog.port}",
                   forward_options={"settle": 0.2, "backoff_max": 0.2})
    with netlab.LogServer(0, **options) as server:  # type: ignore[arg-type]
        Sender(server.port, 300, rate=1e6).run()
        server.flush()
        assert server.stats()["forward"]["position"] == 0
    assert (tmp_path / "d" / "forward.state").exists()
    with rsyslog, netlab.LogServer(0, **options) as server:  # type: ignore[arg-type]
        Sender(server.port, 200, rate=1e6, prefix="later").run()
        assert server.drain_forwarding(20), server.stats()["forward"]
        rsyslog.stop()
        got = set(rsyslog.lines())
    assert got == {f"msg {i}" for i in range(300)} | {f"later {i}" for i in range(200)}


def test_rsyslog_forwards_to_logserver_through_omfwd(tmp_path: Path) -> None:
    with netlab.LogServer(None, query_port=None, syslog_port=0,
                          data_dir=str(tmp_path / "d")) as server, \
            Rsyslog(tmp_path / "relay", forward_to=server.syslog_port) as relay:
        import subprocess
        for i in range(20):
            subprocess.run(["logger", "--tcp", "-n", "127.0.0.1", "-P", str(relay.port),
                            "--octet-count", "--rfc5424", "-t", "billing", "-p", "user.err",
                            f"invoice {i} failed"], check=True, timeout=10)
        wait_until(lambda: server.stats()["syslog"]["logs_received"] >= 20, timeout=10,
                   what="20 logs relayed by rsyslog")
        server.flush()
        rows = server.query(app="billing", limit=100)
    # rsyslog adds its timeQuality structured data, which LogServer keeps before the text.
    assert sorted(r["message"].rsplit("] ", 1)[-1] for r in rows) == sorted(
        f"invoice {i} failed" for i in range(20))
    assert all(r["level"] == "ERROR" and not r["parse_error"] for r in rows)
