"""Shared helpers: every server test runs once per I/O model (uvloop's mixin idea)."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, Iterator

import pytest

import netlab

MODEL_OPTIONS = [
    pytest.param({"model": "epoll"}, id="epoll"),
    pytest.param({"model": "epoll", "workers": 2}, id="epoll-2workers"),
    pytest.param({"model": "threaded"}, id="threaded"),
    pytest.param({"model": "select"}, id="select"),
    pytest.param({"model": "poll"}, id="poll"),
]


@pytest.fixture(params=MODEL_OPTIONS)
def model_options(request: pytest.FixtureRequest) -> dict:
    return dict(request.param)


@pytest.fixture
def echo_server(model_options: dict) -> Iterator[netlab.EchoServer]:
    with netlab.EchoServer(port=0, **model_options) as server:
        yield server


@pytest.fixture
def pingpong_server(model_options: dict) -> Iterator[netlab.PingPongServer]:
    with netlab.PingPongServer(port=0, **model_options) as server:
        yield server


@pytest.fixture
def origin() -> Iterator[netlab.HttpServer]:
    """An HttpServer (epoll) for proxies to stand in front of."""
    with netlab.HttpServer(0) as s:
        yield s


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError(f"peer closed with {n} bytes still expected")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv_until_closed(sock: socket.socket, limit: int = 1 << 24) -> bytes:
    chunks, total = [], 0
    while total < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def exchange(sock: socket.socket, data: bytes, expect: int) -> bytes:
    """Sends while receiving, so large payloads cannot deadlock on full socket buffers."""
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            sock.sendall(data)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        return recv_exact(sock, expect)
    finally:
        thread.join(timeout=30)
        if errors:
            raise errors[0]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class CliServer:
    """``python -m netlab serve ...`` in a child process, as a user would start it."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "netlab", "serve", *args, "--port", str(self.port)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, preexec_fn=_raise_fd_limit)
        self.banner = self.proc.stdout.readline()
        if "listening" not in self.banner:
            self.proc.kill()
            raise AssertionError(f"server did not start: {self.banner!r} {self.proc.stderr.read()}")

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self, sig: int = 2) -> tuple[int, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out + err

    def __enter__(self) -> "CliServer":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


class ThreadedTcpServer:
    """A hand-written misbehaving peer: `handle(conn)` runs in a thread per connection."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.stopping = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(10)
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass

    def __enter__(self) -> "ThreadedTcpServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()
        for c in self.conns:
            c.close()
