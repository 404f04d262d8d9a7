"""LogServer's per-port security policy, the guide's table made real: allowed addresses
(a client from a second loopback address, 127.0.0.2), tokens, connection and message rates,
and the defaults (ingest open to all, queries local only)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Optional

import pytest

import netlab
from conftest import wait_until


def dial(port: int, source: Optional[str] = None) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(10)
    if source:
        sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def answer(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    out = b""
    while not out.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        out += chunk
    return out


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def test_allowlist_by_address(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          ingest_policy={"allow": "127.0.0.2/32, ::1"}) as s:
        with dial(s.port) as refused:
            assert refused.recv(100) == b"error: address 127.0.0.1 not allowed\n"
            assert closed(refused)
        with dial(s.port, "127.0.0.2") as allowed:
            assert answer(allowed, b"LOG|INFO|1|from .2\n") == b"OK|1\n"
        stats = s.stats()["ingest"]
        assert stats["closes"]["denied"] == 1 and stats["connections_rejected"] == 1
    with pytest.raises(ValueError, match="allow: '10.0.0.0/33'"):
        netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                         ingest_policy={"allow": "10.0.0.0/33"})


def test_query_port_is_local_only_by_default(tmp_path: Path) -> None:
    with netlab.LogServer(None, query_port=0, syslog_port=None, host="0.0.0.0",
                          data_dir=str(tmp_path / "logs")) as s:
        with dial(s.query_port, "127.0.0.2") as other:  # local, and in 127.0.0.0/8
            assert answer(other, b"QUERY|limit=1\n").startswith(b"RESULT|0\n")
        assert s.options()["allow"] == "127.0.0.0/8 ::1"


def test_tokens(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=0, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          token="s3cret") as s:
        with dial(s.port) as anonymous:
            assert answer(anonymous, b"LOG|INFO|1|x\n") == b"ERROR|authentication required\n"
            assert closed(anonymous)
        with dial(s.port) as wrong:
            assert answer(wrong, b"AUTH|guess\n") == b"ERROR|bad token\n"
            assert closed(wrong)
        with dial(s.port) as binary:
            binary.sendall(b"\x01\x03\x00\x00\x00\x00\x00\x01")  # PING, without a token
            assert closed(binary)
        with dial(s.port) as good:
            assert answer(good, b"AUTH|s3cret\n") == b"OK|auth\n"
            assert answer(good, b"LOG|INFO|1|authenticated\n") == b"OK|1\n"
        with dial(s.query_port) as q:
            assert answer(q, b"QUERY|limit=1\n") == b"ERROR|authentication required\n"
        with dial(s.query_port) as q:
            assert answer(q, b"AUTH|s3cret\n") == b"OK|auth\n"
            s.flush()
            assert answer(q, b"QUERY|KEYWORD|authenticated\n").startswith(b"RESULT|1\n")
        assert s.stats()["ingest"]["bad_tokens"] == 3
        assert s.stats()["query"]["bad_tokens"] == 1


def test_connection_rate_per_address(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          ingest_policy={"connect_rate_per_ip": 5}) as s:
        refused = 0
        for _ in range(20):
            with dial(s.port) as sock:
                reply = answer(sock, b"LOG|INFO|1|x\n")
                refused += reply.startswith(b"error: too many new connections from 127.0.0.1")
        assert 13 <= refused <= 15  # a burst of 5, then about 5 a second
        with dial(s.port, "127.0.0.2") as other:  # another address has its own budget
            assert answer(other, b"LOG|INFO|1|x\n").startswith(b"OK|")
        assert s.stats()["ingest"]["closes"]["denied"] == refused


def test_message_rate_pauses_never_drops(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          message_rate=200) as s:
        with dial(s.port) as sock:
            start = time.monotonic()
            sock.sendall(b"".join(b"LOG|INFO|1|paced %d\n" % i for i in range(600)))
            data = b""
            while data.count(b"\n") < 600:
                data += sock.recv(65536)
            elapsed = time.monotonic() - start
        assert data.split(b"\n")[599] == b"OK|600"
        assert elapsed >= 1.5, elapsed  # a burst of 200, then 200 a second for the rest
        assert s.stats()["ingest"]["rate_limited"] > 0
        wait_until(lambda: (s.flush(), s.stats()["ingest"]["store_logs"])[1] == 600,
                   what="every paced log stored")
