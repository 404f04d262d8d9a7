"""LogServer under load: the generator's `log` and `syslog` scenarios, and 2,000 concurrent
ingest connections (under select: served up to its cap, the rest refused cleanly)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import netlab
from conftest import MODEL_OPTIONS, CliServer, recv_until_closed, wait_until
from netlab.load import LoadGenerator

SELECT_CAP = netlab.servers.DEFAULTS["select_max_connections"]

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("options", MODEL_OPTIONS)
def test_log_scenario_is_answered_and_stored(tmp_path: Path, options: dict) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "d"),
                          ack="durable", **options) as server:
        result = LoadGenerator("127.0.0.1", server.port, scenario="log", connections=4,
                               pipeline=8, duration=1, size=200).run()
        server.flush()
        stored = server.stats()["ingest"]["store_logs"]
        rows = server.query(limit=1)
    assert result.errors == 0 and result.responses > 100
    assert stored >= result.responses  # every answered log is on disk
    assert len(rows[0]["message"]) == 200 and rows[0]["message"].startswith("load ")


@pytest.mark.parametrize("framing", ["octet", "lf"])
def test_syslog_scenario_arrives_whole(tmp_path: Path, framing: str) -> None:
    with netlab.LogServer(None, query_port=None, syslog_port=0,
                          data_dir=str(tmp_path / "d")) as server:
        result = LoadGenerator("127.0.0.1", server.syslog_port, scenario="syslog",
                               framing=framing, connections=5, rate=5000, duration=1,
                               size=200).run()
        wait_until(lambda: server.stats()["syslog"]["logs_received"] >= result.requests,
                   what="every syslog message received")
        stats = server.stats()["syslog"]
        server.flush()
        row = server.query(limit=1)[0]
    assert result.errors == 0 and 4000 <= result.requests <= 5100
    assert stats["logs_received"] == result.requests and stats["parse_errors"] == 0
    assert (row["host"], row["app"], row["level"]) == ("loadgen", "netlab", "INFO")


def test_syslog_scenario_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        LoadGenerator("127.0.0.1", 9, scenario="syslog", duration=1).run()


def _ingest_crowd(port: int, count: int) -> tuple[int, int]:
    """Opens `count` connections at once, sends a LOG on each; (answered OK, refused)."""
    clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
    try:
        for i, c in enumerate(clients):
            c.sendall(b"LOG|INFO||crowd %d\n" % i)
        answered = refused = 0
        for c in clients:
            reply = c.makefile("rb").readline()
            if reply.startswith(b"OK|"):
                answered += 1
            else:
                assert (reply + recv_until_closed(c)).startswith(b"error: server full"), reply
                refused += 1
        return answered, refused
    finally:
        for c in clients:
            c.close()


def test_two_thousand_ingest_connections(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "d"),
                          ingest_policy={"connect_rate_per_ip": 0}) as server:
        assert _ingest_crowd(server.port, 2000) == (2000, 0)
        server.flush()
        assert server.stats()["ingest"]["store_logs"] == 2000


def test_select_serves_up_to_its_cap_then_refuses(tmp_path: Path) -> None:
    # A server process of its own, so its descriptors are its connections (and its store's).
    with CliServer("logs", "--model", "select", "--query-port", "-1", "--syslog-port", "-1",
                   "--data-dir", str(tmp_path / "d"), "--connect-rate-per-ip", "0") as server:
        answered, refused = _ingest_crowd(server.port, 2000)
        assert answered + refused == 2000
        # The cap, less the few descriptors the store holds open below FD_SETSIZE.
        assert SELECT_CAP - 16 <= answered <= SELECT_CAP, answered
        assert _ingest_crowd(server.port, 10) == (10, 0)  # and it goes on serving
        code, _ = server.stop()
        assert code == 0
