"""A peer that never reads must cost bounded server memory and must not slow anyone else."""

from __future__ import annotations

import socket
import time

import pytest

import netlab
from conftest import CliServer, connect, recv_exact

HIGH_WATER = 1 << 20
READ_CHUNK = 64 << 10


def push_until_stalled(sock: socket.socket, payload: bytes, limit: int = 64 << 20,
                       stall: float = 0.5, timeout: float = 20) -> int:
    """Writes without ever reading until the kernel accepts nothing for `stall` seconds."""
    sock.setblocking(False)
    sent, last_progress, start = 0, time.monotonic(), time.monotonic()
    while sent < limit and time.monotonic() - start < timeout:
        try:
            sent += sock.send(payload)
            last_progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last_progress > stall:
                break
            time.sleep(0.005)
    return sent


def assert_others_unaffected(port: int) -> None:
    with connect(port) as other:
        for _ in range(50):
            other.sendall(b"ping\n")
            assert recv_exact(other, 5) == b"pong\n"


def test_echo_server_holds_at_most_high_water(model_options: dict) -> None:
    with netlab.EchoServer(port=0, high_water=HIGH_WATER, **model_options) as server:
        stuck = connect(server.port)
        sent = push_until_stalled(stuck, b"\xab" * 65536)
        stats = server.stats()
        held = stats["bytes_in"] - stats["bytes_out"]  # echo: what the server still queues
        assert sent > HIGH_WATER  # the client really did push past the bound
        assert held <= HIGH_WATER + READ_CHUNK, stats
        with connect(server.port) as other:
            other.sendall(b"fine")
            assert recv_exact(other, 4) == b"fine"
        stuck.close()


def test_pingpong_server_keeps_serving_others(model_options: dict) -> None:
    with netlab.PingPongServer(port=0, high_water=HIGH_WATER, **model_options) as server:
        stuck = connect(server.port)
        push_until_stalled(stuck, b"ping\n" * 10000)
        stats = server.stats()
        queued = stats["messages_out"] * 5 - stats["bytes_out"]  # pongs not yet written
        assert queued <= HIGH_WATER + READ_CHUNK, stats
        assert_others_unaffected(server.port)
        stuck.close()


@pytest.mark.parametrize("model", netlab.MODELS)
def test_server_process_memory_stays_bounded(model: str) -> None:
    with CliServer("echo", "--model", model) as server:
        with connect(server.port) as warm:  # let the process reach its steady size
            warm.sendall(b"w" * 100_000)
            recv_exact(warm, 100_000)
        before = server.rss_kib()
        stuck = [connect(server.port) for _ in range(4)]
        pushed = sum(push_until_stalled(s, b"\x00" * 65536, limit=32 << 20) for s in stuck)
        growth_mib = (server.rss_kib() - before) / 1024
        with connect(server.port) as other:
            other.sendall(b"alive")
            assert recv_exact(other, 5) == b"alive"
        for s in stuck:
            s.close()
        code, _ = server.stop()
    assert pushed > 4 * HIGH_WATER
    # Four stuck peers at about 1 MiB each, plus allocator slack; unbounded would be ~`pushed`.
    assert growth_mib < 16, f"RSS grew {growth_mib:.1f} MiB after peers pushed {pushed >> 20} MiB"
    assert code == 0
