"""RelayServer, the TCP port forwarder: bytes both ways, backpressure, half-close, a target
that is down or silent, many clients, and real peers (socat, nc) on either side."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
import zlib
from typing import Iterator

import pytest

import netlab
from conftest import MODEL_OPTIONS, CliServer, connect, recv_exact, recv_until_closed, wait_until

PATTERN = bytes(range(256)) * 4096  # 1 MiB that is not all one byte


class Sink:
    """A far end that accepts one connection, reads everything slowly (`delay` seconds per
    `chunk`) and checksums it, then optionally answers and closes."""

    def __init__(self, chunk: int = 1 << 20, delay: float = 0.0) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.chunk, self.delay = chunk, delay
        self.received = 0
        self.crc = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            while True:
                data = conn.recv(self.chunk)
                if not data:
                    break
                self.received += len(data)
                self.crc = zlib.crc32(data, self.crc)
                if self.delay:
                    time.sleep(self.delay)
            conn.sendall(b"got %d\n" % self.received)
        self.done.set()

    def close(self) -> None:
        self.listener.close()


def send_stream(sock: socket.socket, total: int) -> int:
    crc = 0
    sent = 0
    while sent < total:
        piece = PATTERN[: min(len(PATTERN), total - sent)]
        sock.sendall(piece)
        crc = zlib.crc32(piece, crc)
        sent += len(piece)
    return crc


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def echo_target() -> Iterator[netlab.EchoServer]:
    with netlab.EchoServer(port=0) as server:
        yield server


@pytest.mark.parametrize("options", MODEL_OPTIONS)
def test_bytes_flow_both_ways_and_a_half_close_is_passed_on(
        options: dict, echo_target: netlab.EchoServer) -> None:
    with netlab.RelayServer(port=0, target=f"127.0.0.1:{echo_target.port}", **options) as relay:
        with connect(relay.port) as s:
            for n in (1, 100, 70_000):
                payload = PATTERN[:n]
                s.sendall(payload)
                assert recv_exact(s, n) == payload
            # Echo answers a half-closed client and then closes (RFC 862): the relay must pass
            # the client's FIN on and the echo server's FIN back.
            s.sendall(b"last words")
            s.shutdown(socket.SHUT_WR)
            assert recv_until_closed(s) == b"last words"
        wait_until(lambda: relay.stats()["connections_active"] == 0, what="the relay to close")
        closes = relay.stats()["closes"]
        assert closes["peer_closed"] == 2, closes  # the client and its target connection


def test_1_gib_under_epoll_with_a_slow_far_end_stays_in_bounded_memory() -> None:
    sink = Sink(chunk=256 << 10, delay=0.0005)  # about 500 MB/s at most
    try:
        with CliServer("relay", "--model", "epoll", "--target", f"127.0.0.1:{sink.port}") as relay:
            with connect(relay.port, timeout=60) as s:
                crc = send_stream(s, 1 << 30)
                s.shutdown(socket.SHUT_WR)
                assert recv_until_closed(s) == b"got %d\n" % (1 << 30)
            assert sink.done.wait(30)
            assert sink.received == 1 << 30 and sink.crc == crc
            peak = peak_rss_mib(relay.proc.pid)
            code, _ = relay.stop()
        # The relay holds about high_water (1 MiB) per direction, whatever the stream's size.
        assert peak < 64, f"relay peak RSS {peak:.1f} MiB"
        assert code == 0
    finally:
        sink.close()


@pytest.mark.parametrize("model", ["threaded", "select", "poll"])
def test_64_mib_under_the_other_models(model: str) -> None:
    sink = Sink(chunk=64 << 10, delay=0.0002)
    try:
        with netlab.RelayServer(port=0, target=f"127.0.0.1:{sink.port}", model=model) as relay:
            with connect(relay.port, timeout=60) as s:
                crc = send_stream(s, 64 << 20)
                s.shutdown(socket.SHUT_WR)
                assert recv_until_closed(s) == b"got %d\n" % (64 << 20)
            assert sink.done.wait(30) and sink.crc == crc
    finally:
        sink.close()


@pytest.mark.parametrize("model", netlab.MODELS)
def test_the_target_may_half_close_first(model: str) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def target() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"banner\n")
            conn.shutdown(socket.SHUT_WR)  # the target has said all it will say
            seen.append(recv_until_closed(conn))

    t = threading.Thread(target=target)
    t.start()
    try:
        with netlab.RelayServer(port=0, target=f"127.0.0.1:{listener.getsockname()[1]}",
                                model=model) as relay:
            with connect(relay.port) as s:
                assert recv_until_closed(s) == b"banner\n"  # the target's FIN reached us
                s.sendall(b"still talking\n")  # while the other direction stays open
                s.shutdown(socket.SHUT_WR)
                t.join(10)
            assert seen == [b"still talking\n"]
    finally:
        listener.close()


@pytest.mark.parametrize("model", netlab.MODELS)
def test_a_refused_target_closes_the_client_with_a_typed_reason(model: str) -> None:
    port = socket.create_server(("127.0.0.1", 0))
    dead = port.getsockname()[1]
    port.close()  # nothing listens there now
    with netlab.RelayServer(port=0, target=f"127.0.0.1:{dead}", model=model,
                            log_connections=True) as relay:
        with connect(relay.port) as s:
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
        wait_until(lambda: relay.stats()["closes"]["refused"] == 2, what="two refused closes")
        assert any("Connection refused" in e for e in relay.events())


def test_a_silent_target_times_out() -> None:
    # A listener whose accept queue is full: Linux drops further SYNs, so a connect to it
    # neither succeeds nor fails until the relay's own timeout.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    time.sleep(0.1)
    try:
        with netlab.RelayServer(port=0, target=f"127.0.0.1:{port}",
                                connect_timeout=0.3) as relay:
            started = time.monotonic()
            with connect(relay.port) as s:
                assert recv_until_closed(s) == b""
            assert time.monotonic() - started < 3
            assert relay.stats()["closes"]["connect_timeout"] >= 1
    finally:
        for f in fillers:
            f.close()
        listener.close()


@pytest.mark.parametrize("model", netlab.MODELS)
def test_500_clients_at_once(model: str, echo_target: netlab.EchoServer) -> None:
    # The relay in a process of its own, as a user runs it: select's fd numbers are then the
    # relay's alone (this process holds the 500 clients and the echo server's 500 sockets).
    with CliServer("relay", "--model", model, "--target", f"127.0.0.1:{echo_target.port}") \
            as relay:
        clients = [connect(relay.port) for _ in range(500)]
        try:
            refused = 0
            for i, c in enumerate(clients):
                c.sendall(b"client %d\n" % i)
            for i, c in enumerate(clients):
                got = b""
                while not got.endswith(b"\n"):
                    got += c.recv(100)
                if got == b"error: server full\n":
                    refused += 1
                    continue
                assert got == b"client %d\n" % i
            if model == "select":  # two sockets per client: 450 fit below FD_SETSIZE
                assert refused == 50
            else:
                assert refused == 0
        finally:
            for c in clients:
                c.close()
        code, _ = relay.stop()
        assert code == 0


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")
def test_socat_through_the_relay_to_an_echo_server(echo_target: netlab.EchoServer) -> None:
    with CliServer("relay", "--target", f"127.0.0.1:{echo_target.port}") as relay:
        data = b"".join(b"line %d\n" % i for i in range(10_000))
        out = subprocess.run(["socat", "-t", "2", "-", f"TCP:127.0.0.1:{relay.port}"],
                             input=data, capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout == data
        code, _ = relay.stop()
        assert code == 0


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc not installed")
def test_nc_as_the_target() -> None:
    port = socket.create_server(("127.0.0.1", 0))
    target_port = port.getsockname()[1]
    port.close()
    nc = subprocess.Popen(["nc", "-l", "127.0.0.1", str(target_port)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE)
    try:
        time.sleep(0.2)
        with netlab.RelayServer(port=0, target=f"127.0.0.1:{target_port}") as relay:
            with connect(relay.port) as s:
                s.sendall(b"to nc\n")
                assert nc.stdout.readline() == b"to nc\n"
                nc.stdin.write(b"from nc\n")
                nc.stdin.flush()
                assert recv_exact(s, 8) == b"from nc\n"
    finally:
        nc.kill()
        nc.communicate()


def test_target_must_be_host_and_port() -> None:
    with pytest.raises(ValueError, match="target must be host:port"):
        netlab.RelayServer(port=0, target="localhost")
    with pytest.raises(ValueError, match="target port must be between 1 and 65535"):
        netlab.RelayServer(port=0, target="127.0.0.1:70000")


def test_close_kinds_match_the_engine() -> None:
    assert [k.value for k in netlab.CloseKind] == netlab._core.close_kinds()


def test_cli_serve_relay_needs_a_target() -> None:
    out = subprocess.run([sys.executable, "-m", "netlab", "serve", "relay", "--port", "0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "serve relay needs --target HOST:PORT" in out.stderr
