"""netlab.LogClient against LogServer: every protocol under every I/O model, idempotent
resends across a server restart (exactly once with ack="durable"), failover, a bounded
queue; and the keyed text lines (CLIENT, LOGK) it speaks, on the wire."""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import netlab
from conftest import MODEL_OPTIONS, connect, free_port, recv_exact, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=MODEL_OPTIONS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[netlab.LogServer]:
    with netlab.LogServer(0, query_port=None, syslog_port=0, data_dir=str(tmp_path / "logs"),
                          ack="durable", **request.param) as s:
        yield s


@pytest.mark.parametrize("protocol", ["text", "binary", "syslog"])
def test_every_protocol_delivers_and_confirms(server: netlab.LogServer, protocol: str) -> None:
    port = server.syslog_port if protocol == "syslog" else server.port
    with netlab.LogClient(f"127.0.0.1:{port}", protocol=protocol, host="web01", app="shop",
                          settle=0.05) as client:
        for i in range(500):
            client.send(f"order {i} placed\nsecond line", level="WARN" if i % 2 else "ERROR",
                        timestamp=1_800_000_000 + i)
        assert client.flush(20), client.stats()
        stats = client.stats()
    assert stats["confirmed"] == 500 and stats["queued"] == 0 and stats["resent"] == 0
    server.flush()
    rows = server.query(limit=1000)
    assert len(rows) == 500
    first = rows[0]
    assert first["message"] == "order 0 placed\nsecond line"  # newlines survive every framing
    assert (first["level"], first["time"]) == ("ERROR", 1_800_000_000)
    if protocol != "binary":  # the guide's binary LOG has no host or app
        assert (first["host"], first["app"]) == ("web01", "shop")


def test_resends_after_a_server_restart_are_stored_once(tmp_path: Path) -> None:
    port = free_port()
    data = str(tmp_path / "logs")
    server = netlab.LogServer(port, query_port=None, syslog_port=None, data_dir=data,
                              ack="durable").start()
    count = 20000
    client = netlab.LogClient(f"127.0.0.1:{port}", timeout=5)

    def produce() -> None:
        for i in range(count):
            client.send(f"event {i}")
            if i % 1000 == 999:
                time.sleep(0.02)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        for _ in range(3):  # the server goes away with logs in flight, and comes back
            wait_until(lambda: client.stats()["confirmed"] > 0, what="some logs confirmed")
            server.stop()
            time.sleep(0.2)
            server = netlab.LogServer(port, query_port=None, syslog_port=None, data_dir=data,
                                      ack="durable").start()
        producer.join(60)
        assert client.flush(30), client.stats()
        stats = client.stats()
    finally:
        client.close(1)
        server.flush()
        rows = server.query(limit=count * 2)
        duplicates = server.stats()["ingest"]["store_duplicates"]
        server.stop()
    assert stats["disconnects"] >= 1
    assert len(rows) == count, f"{len(rows)} stored for {count} sent"
    assert {r["message"] for r in rows} == {f"event {i}" for i in range(count)}
    # Whatever the last server saw twice, it stored once.
    assert duplicates <= stats["resent"]


def test_fails_over_to_the_next_server(tmp_path: Path) -> None:
    dead = free_port()
    with netlab.LogServer(0, query_port=None, syslog_port=None,
                          data_dir=str(tmp_path / "logs")) as server:
        client = netlab.LogClient([f"127.0.0.1:{dead}", f"127.0.0.1:{server.port}"])
        for i in range(100):
            client.send(f"m{i}")
        assert client.flush(20)
        stats = client.stats()
        client.close()
        server.flush()
        assert len(server.query(limit=1000)) == 100
    assert stats["active"] == 1 and stats["connect_failures"] >= 1


def test_a_full_queue_waits_then_says_why() -> None:
    client = netlab.LogClient(f"127.0.0.1:{free_port()}", max_queue=10)  # no server there
    for i in range(10):
        client.send(f"m{i}")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="max_queue"):
        client.send("one too many", wait=0.2)
    assert time.monotonic() - started >= 0.15
    assert client.close(0.1) is False  # ten logs were never confirmed
    assert "connect" in client.stats()["last_error"]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="protocol"):
        netlab.LogClient("gopher://127.0.0.1:70")
    with pytest.raises(ValueError, match="port"):
        netlab.LogClient("127.0.0.1")
    with pytest.raises(ValueError, match="level"):
        netlab.LogClient(f"127.0.0.1:{free_port()}").send("x", level="LOUD")


def test_keyed_lines_on_the_wire(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "d"),
                          ack="durable") as server:
        s = connect(server.port)
        f = s.makefile("rb")
        s.sendall(b"LOGK|1|INFO||h|a|before CLIENT\n")
        assert f.readline() == b"ERROR|CLIENT|<id> must come first\n"
        s.sendall(b"CLIENT|has space\n")
        assert f.readline() == b"ERROR|bad client id\n"
        s.sendall(b"CLIENT|app-7\n")
        assert f.readline() == b"OK|client\n"
        line = b"LOGK|42|ERROR|2026-11-23T10:00:00Z|db01|pg|two\\nlines \\\\ and|bars\n"
        s.sendall(line + line + b"LOGK|x|INFO||||bad seq\n")
        first, second = f.readline(), f.readline()
        assert first.startswith(b"OK|") and second.startswith(b"OK|")
        assert f.readline() == b"ERROR|bad sequence number\n"
        s.close()
        server.flush()
        rows = server.query(limit=10)
        assert server.stats()["ingest"]["store_duplicates"] == 1
    assert len(rows) == 1
    assert (rows[0]["host"], rows[0]["app"], rows[0]["level"]) == ("db01", "pg", "ERROR")
    assert rows[0]["message"] == "two\nlines \\ and|bars"


def test_fails_over_past_a_server_that_refuses_after_connecting(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "a"),
                          token="secret") as locked, \
            netlab.LogServer(0, query_port=None, syslog_port=None,
                             data_dir=str(tmp_path / "b")) as open_server:
        client = netlab.LogClient([f"127.0.0.1:{locked.port}", f"127.0.0.1:{open_server.port}"])
        client.send("for whoever takes it")
        assert client.flush(20), client.stats()
        stats = client.stats()
        client.close()
    assert stats["active"] == 1 and stats["disconnects"] >= 1
    assert "authentication required" in stats["last_error"]


def test_a_restarted_client_with_the_same_id_is_not_taken_for_a_resend(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "d"),
                          ack="durable") as server:
        for run in range(2):  # the same client_id, sequence numbers from 1 both times
            with netlab.LogClient(f"127.0.0.1:{server.port}", client_id="billing") as client:
                assert client.client_id.startswith("billing-")
                for i in range(10):
                    client.send(f"run {run} log {i}")
        server.flush()
        assert len(server.query(limit=100)) == 20
        assert server.stats()["ingest"]["store_duplicates"] == 0


def test_syslog_is_not_held_to_one_window_per_settle(tmp_path: Path) -> None:
    with netlab.LogServer(None, query_port=None, syslog_port=0,
                          data_dir=str(tmp_path / "d")) as server:
        # 2,000 logs through a window of 10 with a 0.5 s settle: the window bounds what the
        # server's TCP has not acknowledged, not what waits to settle.
        client = netlab.LogClient(f"syslog://127.0.0.1:{server.syslog_port}", window=10,
                                  settle=0.5)
        start = time.monotonic()
        for i in range(2000):
            client.send(f"m{i}")
        assert client.flush(20)
        assert time.monotonic() - start < 10
        client.close()
        wait_until(lambda: server.stats()["syslog"]["logs_received"] == 2000)


def _binary_upstream(listener: socket.socket, log_answer: bytes) -> None:
    """A stand-in for LogServer's binary port: accepts the client id, then answers the first
    LOG frame with `log_answer` as its payload and holds the connection open."""
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(10)
        for command, answer in ((5, b"\x00"), (1, log_answer)):
            version, got, length, sequence = struct.unpack("!BBHI", recv_exact(conn, 8))
            recv_exact(conn, length)
            assert (version, got) == (1, command)
            conn.sendall(struct.pack("!BBHI", 1, command, len(answer), sequence) + answer)
        time.sleep(1)


@pytest.mark.parametrize("answer", [b"", b"\x01"])
def test_a_binary_answer_without_a_reason_is_handled(answer: bytes) -> None:
    """An answer of no bytes is a broken upstream (the connection is dropped, with why), and a
    refusal without a reason is a refusal; neither may take the client's process down."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        upstream = threading.Thread(target=_binary_upstream, args=(listener, answer))
        upstream.start()
        client = netlab.LogClient(f"127.0.0.1:{listener.getsockname()[1]}", protocol="binary")
        try:
            client.send("one")
            if answer:
                wait_until(lambda: client.stats()["rejected"] == 1, what="the refusal counted")
            else:
                wait_until(lambda: "without a status byte" in client.stats()["last_error"],
                           what="the bad answer reported")
        finally:
            client.close(0)
            upstream.join(10)
