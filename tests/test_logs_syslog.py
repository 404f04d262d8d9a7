"""LogServer's syslog port: RFC 5424 and RFC 3164 over TCP, octet-counted and LF-framed,
under every I/O model, with util-linux logger as the real client."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

import netlab
from conftest import MODEL_OPTIONS, connect, wait_until

RFC5424 = (b'<165>1 2026-11-23T10:00:00.123Z web01 nginx 4242 ID47 '
           b'[exampleSDID@32473 iut="3" eventSource="App\\]lication"] upstream timed out')
RFC3164 = b"<34>Nov 23 10:00:01 db01 postgres[77]: checkpoint starting: time"


def octet(message: bytes) -> bytes:
    return b"%d " % len(message) + message


@pytest.fixture(params=MODEL_OPTIONS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[netlab.LogServer]:
    with netlab.LogServer(None, query_port=None, syslog_port=0,
                          data_dir=str(tmp_path / "logs"), **request.param) as s:
        yield s


def stored(server: netlab.LogServer, count: int) -> list[dict[str, object]]:
    wait_until(lambda: server.stats()["syslog"]["logs_received"] >= count,
               what=f"{count} syslog messages received")
    server.flush()
    return server.query(limit=1000)


def test_both_formats_in_both_framings_every_model(server: netlab.LogServer) -> None:
    with connect(server.syslog_port) as sock:
        sock.sendall(octet(RFC5424) + RFC3164 + b"\n" + octet(b"<13>1 - - - - - - bare") +
                     b"<14>Nov  3 01:02:03 h app: day padded with a space\r\n")
    rows = stored(server, 4)
    first = rows[0]
    assert (first["level"], first["host"], first["app"], first["timestamp"]) == (
        "NOTICE", "web01", "nginx", "2026-11-23T10:00:00.123Z")
    assert first["message"] == ('[exampleSDID@32473 iut="3" eventSource="App\\]lication"] '
                                "upstream timed out")
    assert (rows[1]["level"], rows[1]["host"], rows[1]["app"]) == ("CRIT", "db01", "postgres")
    assert rows[1]["message"] == "checkpoint starting: time"
    assert rows[1]["timestamp"].endswith("-11-23T10:00:01.000Z")
    assert (rows[2]["host"], rows[2]["app"], rows[2]["message"]) == ("", "", "bare")
    assert rows[3]["message"] == "day padded with a space"
    assert not any(r["parse_error"] or r["truncated"] for r in rows)
    assert [r["message"] for r in server.query(app="postgres")] == ["checkpoint starting: time"]


def test_frames_split_at_every_byte(server: netlab.LogServer) -> None:
    data = octet(RFC5424) + RFC3164 + b"\n"
    with connect(server.syslog_port) as sock:
        for i in range(len(data)):
            sock.sendall(data[i:i + 1])
            time.sleep(0.0005)
    rows = stored(server, 2)
    assert [r["host"] for r in rows] == ["web01", "db01"]


def test_oversize_and_malformed_are_kept_and_flagged(tmp_path: Path) -> None:
    with netlab.LogServer(None, query_port=None, syslog_port=0, data_dir=str(tmp_path / "logs"),
                          max_message=1000) as s:
        big = b"<14>1 - host app - - - " + b"x" * 300_000
        with connect(s.syslog_port) as sock:
            sock.sendall(octet(big) + octet(RFC5424) + b"no priority at all\n" +
                         b"<999>bad pri\n" + b"<14>" + b"y" * 5000 + b"\n" + RFC3164 + b"\n")
        rows = stored(s, 6)
    assert [(r["truncated"], r["parse_error"]) for r in rows] == [
        (True, False), (False, False), (False, True), (False, True), (True, True),
        (False, False)]
    assert rows[0]["host"] == "host"
    assert len(rows[0]["message"]) == 1000 - len(b"<14>1 - host app - - - ")
    assert rows[2]["message"] == "no priority at all"
    assert rows[5]["host"] == "db01"
    stats = s.stats()["syslog"]
    assert stats["truncated"] == 2 and stats["parse_errors"] == 3


def test_structured_data_ending_in_an_escape_is_kept_raw(tmp_path: Path) -> None:
    """A backslash as the last byte of unclosed structured data once made the parser read past
    the message and throw, which ended the server's process."""
    cut = b'<13>1 - h a p m [x y="\\'
    with netlab.LogServer(None, query_port=None, syslog_port=0,
                          data_dir=str(tmp_path / "logs")) as s:
        with connect(s.syslog_port) as sock:
            sock.sendall(octet(cut) + cut + b"\n" + octet(RFC5424))
        rows = stored(s, 3)
    assert [(r["message"], r["parse_error"]) for r in rows[:2]] == [(cut.decode(), True)] * 2
    assert (rows[2]["host"], rows[2]["parse_error"]) == ("web01", False)


@pytest.mark.skipif(not shutil.which("logger"), reason="util-linux logger is not installed")
@pytest.mark.parametrize("flags", [["--octet-count", "--rfc5424"], ["--rfc5424"],
                                   ["--octet-count", "--rfc3164"], ["--rfc3164"]],
                         ids=["octet-5424", "lf-5424", "octet-3164", "lf-3164"])
def test_logger_tcp(tmp_path: Path, flags: list[str]) -> None:
    with netlab.LogServer(None, query_port=None, syslog_port=0,
                          data_dir=str(tmp_path / "logs")) as s:
        sent = subprocess.run(["logger", "--tcp", "-n", "127.0.0.1", "-P", str(s.syslog_port),
                               *flags, "-p", "local0.err", "-t", "netlab-test",
                               "hello from logger"], capture_output=True, timeout=30)
        assert sent.returncode == 0, sent.stderr
        rows = stored(s, 1)
    assert len(rows) == 1
    row = rows[0]
    assert (row["level"], row["app"], row["parse_error"]) == ("ERROR", "netlab-test", False)
    assert row["message"].endswith("hello from logger")
    assert row["host"] == socket.gethostname() or row["host"] in socket.gethostname()
    assert abs(row["time"] - time.time()) < 120


def test_ports_share_one_store(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=0, syslog_port=0, data_dir=str(tmp_path / "logs")) as s:
        with connect(s.port) as sock:
            sock.sendall(b"LOG|INFO|1|from the text port\n")
            sock.recv(100)
        with connect(s.syslog_port) as sock:
            sock.sendall(octet(RFC5424))
        rows = stored(s, 1)
        wait_until(lambda: len(s.query()) == 2, what="both logs committed")
        assert sorted(r["message"][-9:] for r in s.query()) == ["text port", "timed out"]


def test_absurd_frame_length_closes_the_connection(tmp_path: Path) -> None:
    """A length far past max_message would make the server skip gigabytes unseen: the
    connection is closed instead, and the frames before it are kept."""
    with netlab.LogServer(None, query_port=None, syslog_port=0, data_dir=str(tmp_path / "logs"),
                          max_message=1000) as s:
        with connect(s.syslog_port) as sock:
            sock.sendall(octet(RFC3164) + b"9000000000 <14>1 - - - - - - x")
            assert sock.recv(100) == b""
        rows = stored(s, 1)
        assert [r["host"] for r in rows] == ["db01"]
        wait_until(lambda: s.stats()["syslog"]["closes"]["protocol_error"] == 1,
                   what="the close counted")
        assert s.stats()["syslog"]["parse_errors"] == 1
