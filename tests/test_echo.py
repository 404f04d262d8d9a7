"""EchoServer under every I/O model: bytes come back unchanged, whatever their size or split."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time

import pytest

import netlab
from conftest import connect, exchange, recv_exact, wait_until


def test_one_byte(echo_server: netlab.EchoServer) -> None:
    with connect(echo_server.port) as s:
        s.sendall(b"x")
        assert recv_exact(s, 1) == b"x"


def test_one_mebibyte(echo_server: netlab.EchoServer) -> None:
    data = os.urandom(1 << 20)
    with connect(echo_server.port) as s:
        assert exchange(s, data, len(data)) == data


def test_binary_with_nul_bytes(echo_server: netlab.EchoServer) -> None:
    data = bytes(range(256)) * 16 + b"\0" * 4096 + b"\r\n\0\n"
    with connect(echo_server.port) as s:
        assert exchange(s, data, len(data)) == data


def test_any_split(echo_server: netlab.EchoServer) -> None:
    rng = random.Random(7)
    data = os.urandom(200_000)
    with connect(echo_server.port) as s:
        pos = 0
        received = bytearray()
        while pos < len(data):
            step = rng.choice([1, 2, 3, 100, 1460, 4096, 65536, 70000])
            s.sendall(data[pos:pos + step])
            pos += step
            if rng.random() < 0.3:  # sometimes read in between, sometimes let it pile up
                received += s.recv(1 << 20)
        received += recv_exact(s, len(data) - len(received))
        assert bytes(received) == data


def test_byte_by_byte(echo_server: netlab.EchoServer) -> None:
    data = b"hello, byte by byte\x00\xff"
    with connect(echo_server.port) as s:
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            time.sleep(0.002)
        assert recv_exact(s, len(data)) == data


def test_200_concurrent_clients(echo_server: netlab.EchoServer) -> None:
    async def client(i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", echo_server.port)
        payload = bytes([i % 256]) * 512 + str(i).encode()
        got = b""
        for _ in range(5):
            writer.write(payload)
            got = await reader.readexactly(len(payload))
            assert got == payload
        writer.close()
        await writer.wait_closed()
        return got

    async def main() -> list[bytes]:
        return await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(200))), 60)

    results = asyncio.run(main())
    assert len(results) == 200
    wait_until(lambda: echo_server.stats()["connections_active"] == 0, what="all closed")
    stats = echo_server.stats()
    assert stats["connections_total"] == 200
    assert stats["errors"] == 0


def test_disconnect_mid_message(echo_server: netlab.EchoServer) -> None:
    for abort in (False, True):
        s = connect(echo_server.port)
        s.sendall(os.urandom(300_000))
        if abort:  # RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    wait_until(lambda: echo_server.stats()["connections_active"] == 0, what="server closes both")
    with connect(echo_server.port) as s:  # still serving
        assert exchange(s, b"still here", 10) == b"still here"


def test_exact_stats(echo_server: netlab.EchoServer) -> None:
    sizes = [1, 10, 1000, 65536, 100_000]
    for size in sizes:
        with connect(echo_server.port) as s:
            data = os.urandom(size)
            assert exchange(s, data, size) == data
    wait_until(lambda: echo_server.stats()["connections_active"] == 0, what="all closed")
    stats = echo_server.stats()
    assert stats["connections_total"] == len(sizes)
    assert stats["bytes_in"] == stats["bytes_out"] == sum(sizes)
    # Unframed echo: one message per read, each answered by one send.
    assert stats["messages_in"] == stats["messages_out"] >= len(sizes)
    assert stats["errors"] == 0 and stats["connections_rejected"] == 0


def test_half_close_still_gets_everything(echo_server: netlab.EchoServer) -> None:
    data = os.urandom(500_000)
    with connect(echo_server.port) as s:
        s.sendall(data[:1000])
        assert recv_exact(s, 1000) == data[:1000]
        # nc -N style: send the rest, shut down writing, then read until the server closes.
        t = threading.Thread(target=lambda: (s.sendall(data[1000:]), s.shutdown(socket.SHUT_WR)))
        t.start()
        rest = bytearray()
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            rest += chunk
        t.join()
        assert bytes(rest) == data[1000:]
