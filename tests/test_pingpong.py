"""PingPongServer under every I/O model: the classic line protocol, and its limits."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time

import pytest

import netlab
from conftest import connect, exchange, recv_exact, recv_until_closed, wait_until


@pytest.mark.parametrize(
    "sent, expected",
    [
        (b"ping\n", b"pong\n"),
        (b"PING\r\n", b"pong\n"),
        (b"Ping\n", b"pong\n"),
        (b"hello\n", b"received: hello\n"),
        (b"ping pong\n", b"received: ping pong\n"),
        (b"\n", b"received: \n"),
        (b"a\x00b\xff\n", b"received: a\x00b\xff\n"),
    ],
)
def test_replies(pingpong_server: netlab.PingPongServer, sent: bytes, expected: bytes) -> None:
    with connect(pingpong_server.port) as s:
        s.sendall(sent)
        assert recv_exact(s, len(expected)) == expected


def test_one_byte_at_a_time(pingpong_server: netlab.PingPongServer) -> None:
    with connect(pingpong_server.port) as s:
        for byte in b"ping\r\nx\n":
            s.sendall(bytes([byte]))
            time.sleep(0.002)
        assert recv_exact(s, 17) == b"pong\nreceived: x\n"


def test_pipelined_lines_answered_in_order(pingpong_server: netlab.PingPongServer) -> None:
    lines = [b"ping" if i % 3 else b"line %d" % i for i in range(3000)]
    expected = b"".join(b"pong\n" if l == b"ping" else b"received: " + l + b"\n" for l in lines)
    with connect(pingpong_server.port) as s:
        assert exchange(s, b"\n".join(lines) + b"\n", len(expected)) == expected


def test_one_mebibyte_line_is_refused_by_default(pingpong_server: netlab.PingPongServer) -> None:
    with connect(pingpong_server.port) as s:
        try:
            s.sendall(b"x" * (1 << 20) + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before we finish sending
        reply = recv_until_closed(s)
    assert reply == b"error: line too long (max 65536 bytes)\n"
    wait_until(lambda: pingpong_server.stats()["errors"] == 1, what="error counted")


def test_one_mebibyte_line_with_larger_limit(model_options: dict) -> None:
    # No LF inside, and no CR at its end: the codec strips one CR before the LF (strip_cr),
    # which made the reply a byte shorter one run in 256.
    line = os.urandom(1 << 20).replace(b"\n", b"n").replace(b"\r", b"r")
    with netlab.PingPongServer(port=0, max_line=2 << 20, **model_options) as server:
        with connect(server.port) as s:
            got = exchange(s, line + b"\n", len(line) + 11)
    assert got == b"received: " + line + b"\n"


def test_line_at_limit_passes_and_one_over_fails(model_options: dict) -> None:
    with netlab.PingPongServer(port=0, max_line=100, **model_options) as server:
        with connect(server.port) as s:
            s.sendall(b"y" * 100 + b"\r\n")
            assert recv_exact(s, 111) == b"received: " + b"y" * 100 + b"\n"
            s.sendall(b"z" * 101 + b"\n")
            assert recv_until_closed(s) == b"error: line too long (max 100 bytes)\n"


def test_disconnect_mid_line(pingpong_server: netlab.PingPongServer) -> None:
    s = connect(pingpong_server.port)
    s.sendall(b"ping\npi")
    assert recv_exact(s, 5) == b"pong\n"
    s.close()
    wait_until(lambda: pingpong_server.stats()["connections_active"] == 0, what="closed")
    with connect(pingpong_server.port) as s2:
        s2.sendall(b"ping\n")
        assert recv_exact(s2, 5) == b"pong\n"


def test_200_concurrent_clients(pingpong_server: netlab.PingPongServer) -> None:
    async def client(i: int) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", pingpong_server.port)
        for n in range(10):
            writer.write(b"ping\n" if n % 2 else b"c%d-%d\n" % (i, n))
            line = await reader.readline()
            assert line == (b"pong\n" if n % 2 else b"received: c%d-%d\n" % (i, n))
        writer.close()
        await writer.wait_closed()
        return 10

    async def main() -> list[int]:
        return await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(200))), 60)

    assert sum(asyncio.run(main())) == 2000
    wait_until(lambda: pingpong_server.stats()["connections_active"] == 0, what="all closed")
    stats = pingpong_server.stats()
    assert stats["messages_in"] == stats["messages_out"] == 2000
    assert stats["connections_total"] == 200


def test_exact_stats(pingpong_server: netlab.PingPongServer) -> None:
    with connect(pingpong_server.port) as s:
        s.sendall(b"ping\nhello\r\nPING\n")
        assert recv_exact(s, 26) == b"pong\nreceived: hello\npong\n"
    wait_until(lambda: pingpong_server.stats()["connections_active"] == 0, what="closed")
    stats = pingpong_server.stats()
    assert stats["bytes_in"] == 17
    assert stats["bytes_out"] == 26
    assert stats["messages_in"] == 3
    assert stats["messages_out"] == 3
    assert stats["connections_total"] == 1
    assert stats["errors"] == 0
    assert stats["protocol"] == "pingpong"
    assert stats["model"] == pingpong_server.model


def test_real_netcat_client(pingpong_server: netlab.PingPongServer) -> None:
    nc = shutil.which("nc")
    assert nc, "netcat-openbsd is required (the README's test command installs it)"
    result = subprocess.run([nc, "-N", "127.0.0.1", str(pingpong_server.port)],
                            input=b"ping\nhello netlab\nPING\r\n", capture_output=True,
                            timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"pong\nreceived: hello netlab\npong\n"
