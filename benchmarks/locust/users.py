"""Users for benchmarks/locust_compare.py: the classic pure-Python socket user beside netlab's.

All three send ``ping`` and expect ``pong`` from netlab's ping-pong server, with no wait, so
each Locust process runs as fast as it can. BENCH_USER picks one.
"""

from __future__ import annotations

import os
import socket
import time

from locust import User, constant, task

from netlab.locust import NetlabUser, SwarmUser, parse_tcp_host


class PurePythonPingUser(User):
    """The classic Locust TCP example: a socket per user, sendall/recv, one event per request."""

    wait_time = constant(0)

    def on_start(self) -> None:
        host, port = parse_tcp_host(self.host)
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    @task
    def ping(self) -> None:
        start = time.perf_counter()
        exception = None
        try:
            self.sock.sendall(b"ping\n")
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise ConnectionError("closed")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line != b"pong":
                raise ValueError(f"unexpected {line!r}")
        except Exception as exc:  # reported to Locust like any failure
            exception = exc
        self.environment.events.request.fire(
            request_type="TCP", name="ping", response_time=(time.perf_counter() - start) * 1e3,
            response_length=5, exception=exception, context={})

    def on_stop(self) -> None:
        self.sock.close()


class NetlabPingUser(NetlabUser):
    """PingUser's requests, without its waits."""

    wait_time = constant(0)
    request_name = "ping"

    @task
    def ping(self) -> None:
        self.client.request()


class SwarmPingUser(SwarmUser):
    request_name = "ping"


_chosen = os.environ.get("BENCH_USER", "PurePythonPingUser")
for _name in ("PurePythonPingUser", "NetlabPingUser", "SwarmPingUser"):
    if _name != _chosen:
        del globals()[_name]
del _name
