"""Locust users that load TCP servers through netlab's C++ client.

Import this only with Locust installed (``pip install "netlab[locust]"``)::

    from netlab.locust import PingUser      # in a locustfile; run with --host tcp://HOST:PORT

How waiting works without blocking gevent. Importing Locust makes Python threads greenlets;
a native call that blocks its OS thread would freeze every user and stop the worker's
heartbeats. So no request ever blocks in native code: a user's greenlet *submits* its request
to a native I/O thread (one per target and scenario in the process, shared by all users) and
waits on a gevent ``AsyncResult``. The I/O thread connects, sends, matches the response with
the load generator's scenario code, and queues a completion; the first completion of a batch
makes an eventfd readable. One dispatcher greenlet waits on that eventfd with
``gevent.socket.wait_read`` (a cooperative wait), drains every queued completion in one call,
and wakes the users. Response times are measured natively, in nanoseconds, and reported to
Locust as float milliseconds, so sub-millisecond precision is kept.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Optional
from urllib.parse import urlparse

import gevent  # type: ignore[import-untyped]
from gevent.event import AsyncResult  # type: ignore[import-untyped]
from gevent.socket import wait_read  # type: ignore[import-untyped]
from locust import User, between, constant_pacing, task
from locust.env import Environment

from netlab import _core
from netlab.codecs import Codec


class TcpRequestError(Exception):
    """A failed request; ``kind`` is refused, reset, timeout, closed, mismatch, protocol, ..."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def parse_tcp_host(host: Optional[str]) -> tuple[str, int]:
    """``tcp://HOST:PORT`` (or ``HOST:PORT``) -> (host, port)."""
    if not host:
        raise ValueError("no host: pass --host tcp://HOST:PORT")
    url = urlparse(host if "://" in host else f"tcp://{host}")
    if url.scheme != "tcp" or not url.hostname or not url.port:
        raise ValueError(f"expected tcp://HOST:PORT, got {host!r}")
    return url.hostname, url.port


class _Engine:
    """A native I/O thread and the greenlet that hands its completions to users."""

    _shared: dict[tuple[Any, ...], "_Engine"] = {}

    @classmethod
    def get(cls, **settings: Any) -> "_Engine":
        key = tuple(sorted((k, repr(v)) for k, v in settings.items()))
        engine = cls._shared.get(key)
        if engine is None:
            engine = cls._shared[key] = cls(**settings)
        return engine

    def __init__(self, host: str, port: int, scenario: str, size: int,
                 request: Optional[bytes], expect: Optional[bytes], codec: Optional[Codec],
                 connect_timeout: float, response_timeout: float) -> None:
        self.native = _core.AsyncClient(host, port, scenario, size, request, expect, codec,
                                        connect_timeout, response_timeout)
        self.response_timeout = response_timeout
        self.waiters: dict[int, AsyncResult] = {}
        self.tickets = itertools.count(1)
        self.dispatcher = gevent.spawn(self._dispatch)

    def _dispatch(self) -> None:
        fd = self.native.notify_fd
        while True:
            wait_read(fd)
            for done in self.native.drain():
                waiter = self.waiters.pop(done[0], None)
                if waiter is not None:
                    waiter.set(done)

    def request(self, conn: int) -> tuple[Any, ...]:
        ticket = next(self.tickets)
        result = AsyncResult()
        self.waiters[ticket] = result
        if not self.native.submit(conn, ticket):
            self.waiters.pop(ticket, None)
            return (ticket, False, 0, 0, "other", "the client's submission queue is full")
        # The native side times out first; this bound only guards against a lost completion.
        done: tuple[Any, ...] = result.get(timeout=self.response_timeout + 5)
        return done


class TcpClient:
    """One connection (or one per request) to a TCP server, driven by netlab's C++ client.

    Each ``request()`` fires ``environment.events.request`` with request_type ``"TCP"``.

    Args:
        scenario: ``line`` (send ``request`` + newline, expect the line ``expect``), ``echo``
            (``size`` bytes echoed), ``framed`` (``codec`` frames, payload echoed or
            ``expect``).
        connection_per_request: connect, send, receive and close for every request; then
            ``request``/``expect`` are the raw bytes (include the newline for line servers).
    """

    def __init__(self, environment: Environment, host: str, port: int, *,
                 scenario: str = "line", request: Optional[bytes] = b"ping",
                 expect: Optional[bytes] = b"pong", size: int = 64,
                 codec: Optional[Codec] = None, name: Optional[str] = None,
                 connection_per_request: bool = False, connect_timeout: float = 5.0,
                 response_timeout: float = 10.0) -> None:
        self.environment = environment
        self.name = name or scenario
        self.engine = _Engine.get(host=host, port=port,
                                  scenario="connect" if connection_per_request else scenario,
                                  size=size, request=request, expect=expect, codec=codec,
                                  connect_timeout=connect_timeout,
                                  response_timeout=response_timeout)
        self.conn = self.engine.native.open_connection()

    def request(self, name: Optional[str] = None) -> bool:
        """Sends one request, waits (cooperatively) for its response; True on success."""
        _, ok, latency_ns, nbytes, kind, message = self.engine.request(self.conn)
        self.environment.events.request.fire(  # type: ignore[no-untyped-call]
            request_type="TCP", name=name or self.name, response_time=latency_ns / 1e6,
            response_length=nbytes, exception=None if ok else TcpRequestError(kind, message),
            context={})
        return bool(ok)

    def close(self) -> None:
        self.engine.native.close_connection(self.conn)


class NetlabUser(User):
    """A Locust user holding a :class:`TcpClient` for ``--host tcp://HOST:PORT``.

    Subclasses set the class attributes below and write tasks that call
    ``self.client.request()``.
    """

    abstract = True
    scenario = "line"
    request: Optional[bytes] = b"ping"
    expect: Optional[bytes] = b"pong"
    size = 64
    codec: Optional[Codec] = None
    connection_per_request = False
    request_name: Optional[str] = None

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        host, port = parse_tcp_host(self.host)
        self.client = TcpClient(environment, host, port, scenario=self.scenario,
                                request=self.request, expect=self.expect, size=self.size,
                                codec=self.codec, name=self.request_name,
                                connection_per_request=self.connection_per_request)

    def on_stop(self) -> None:
        self.client.close()


class PingUser(NetlabUser):
    """The classic Locust TCP example against the ping-pong server: random 0.1-1 s waits."""

    wait_time = between(0.1, 1)
    request_name = "ping"

    @task
    def ping(self) -> None:
        self.client.request()


class ConstantPingUser(NetlabUser):
    """Ping-pong at a constant pace: one request every 50 ms per user."""

    wait_time = constant_pacing(0.05)
    request_name = "ping"

    @task
    def ping(self) -> None:
        self.client.request()


class EchoUser(NetlabUser):
    """Echo server load: ``NETLAB_ECHO_SIZE`` bytes (default 64) per request, verified."""

    scenario = "echo"
    request = None
    expect = None
    size = int(os.environ.get("NETLAB_ECHO_SIZE", "64"))
    request_name = "echo"
    wait_time = constant_pacing(0.05)

    @task
    def echo(self) -> None:
        self.client.request()


__all__ = ["ConstantPingUser", "EchoUser", "NetlabUser", "PingUser", "TcpClient",
           "TcpRequestError", "parse_tcp_host"]

