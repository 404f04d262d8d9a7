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
import logging
import os
from typing import Any, Callable, Optional
from urllib.parse import urlparse

import gevent  # type: ignore[import-untyped]
from gevent.event import AsyncResult  # type: ignore[import-untyped]
from gevent.socket import wait_read  # type: ignore[import-untyped]
from locust import User, between, constant, constant_pacing, task
from locust.env import Environment

from netlab import _core
from netlab._types import TimelineSecond
from netlab.codecs import Codec
from netlab.load import LoadGenerator, LoadResult

log = logging.getLogger("netlab.locust")


class TcpRequestError(Exception):
    """A failed request; ``kind`` is refused, reset, timeout, closed, mismatch, protocol, ..."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def parse_tcp_host(host: Optional[str], default_port: Optional[int] = None) -> tuple[str, int]:
    """``tcp://HOST:PORT``, ``HOST:PORT``, ``[::1]:PORT`` or a bare ``HOST`` -> (host, port).

    A bare host (Locust's classic ``--host 127.0.0.1``, the port kept in the locustfile) takes
    its port from the environment variable NETLAB_PORT, else ``default_port``. Raises
    ValueError with a message fit for the user.
    """
    if not host:
        raise ValueError("no host: pass --host tcp://HOST:PORT")
    url = urlparse(host if "://" in host else f"tcp://{host}")
    try:
        port = url.port
    except ValueError as exc:  # not a number, or out of 0-65535
        raise ValueError(f"bad port in --host {host!r}: {exc}") from None
    if url.scheme != "tcp" or not url.hostname or url.path.strip("/") or url.netloc.endswith(":"):
        raise ValueError(f"expected --host tcp://HOST:PORT, HOST:PORT or HOST, got {host!r}")
    if port is None:
        port = _port_from_env(default_port)
    if not 0 < port < 65536:
        raise ValueError(f"bad port in --host {host!r}: {port} is not in 1-65535")
    return url.hostname, port


def _port_from_env(default_port: Optional[int]) -> int:
    """The port for a bare --host: NETLAB_PORT, else ``default_port``."""
    value = os.environ.get("NETLAB_PORT")
    if value is None:
        if default_port is None:
            raise ValueError("no port: pass --host HOST:PORT or set NETLAB_PORT")
        return default_port
    if not value.strip().isdigit():
        raise ValueError(f"NETLAB_PORT must be a port number, got {value!r}")
    return int(value)


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

    def __init__(self, codec: Optional[Codec] = None, **options: Any) -> None:
        self.native = _core.AsyncClient(codec, **options)
        self.response_timeout = float(self.native_options()["response_timeout"])
        self.waiters: dict[int, AsyncResult] = {}
        self.tickets = itertools.count(1)
        self.dispatcher = gevent.spawn(self._dispatch)

    def native_options(self) -> dict[str, Any]:
        return dict(self.native.option_values())

    def _dispatch(self) -> None:
        fd = self.native.notify_fd
        while True:
            wait_read(fd)
            for done in self.native.drain():
                waiter = self.waiters.pop(done.ticket, None)
                if waiter is not None:
                    waiter.set(done)

    def _await(self, submit: Callable[[int], bool]) -> Optional[_core.Completion]:
        """Submits under a new ticket and waits for its completion; None when the client's
        submission queue is full."""
        ticket = next(self.tickets)
        result = AsyncResult()
        self.waiters[ticket] = result
        if not submit(ticket):
            self.waiters.pop(ticket, None)
            return None
        # The native side times out first; this bound only guards against a lost completion.
        done: _core.Completion = result.get(timeout=self.response_timeout + 5)
        return done

    def request(self, conn: int, line: Optional[str] = None,
                expect: Optional[str] = None) -> Optional[_core.Completion]:
        """The request's completion; None when the client's submission queue is full."""
        return self._await(lambda ticket: self.native.submit(conn, ticket, line, expect))

    def request_http(self, conn: int, wire: bytes, head: bool) -> Optional[_core.Completion]:
        """An HTTP request's completion (status, headers, body); None when the queue is full."""
        return self._await(lambda ticket: self.native.submit_http(conn, ticket, wire, head))


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

    def request(self, name: Optional[str] = None, line: Optional[str] = None,
                expect: Optional[str] = None) -> bool:
        """Sends one request, waits (cooperatively) for its response; True on success.

        ``line``/``expect`` replace the scenario's request for this call: the line is sent and
        the request succeeds when the line ``expect`` arrives (chat notices and room messages
        arriving meanwhile are passed over).
        """
        done = self.engine.request(self.conn, line, expect)
        if done is None:
            error: Optional[TcpRequestError] = TcpRequestError(
                "other", "the client's submission queue is full")
            ok, latency_ms, nbytes = False, 0.0, 0
        else:
            ok, latency_ms, nbytes = done.ok, done.latency_ns / 1e6, done.bytes
            error = None if ok else TcpRequestError(done.error_kind, done.message)
        self.environment.events.request.fire(  # type: ignore[no-untyped-call]
            request_type="TCP", name=name or self.name, response_time=latency_ms,
            response_length=nbytes, exception=error, context={})
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


class ChatUser(NetlabUser):
    """A member of a netlab ChatServer room.

    On start it takes a unique nick and joins ``NETLAB_CHAT_ROOM`` (default ``locust``); then
    each task sends a message. The rule for success: a chat request succeeds when the private
    message the user sends to itself (``/msg NICK token``) comes back as
    ``[private] <NICK> token``: a full trip through the server's command parser, its nick
    registry and its relay, timed from send to arrival. Room notices and other members'
    messages arriving meanwhile are passed over.
    """

    wait_time = between(0.5, 1.5)
    request_name = "chat"
    room = os.environ.get("NETLAB_CHAT_ROOM", "locust")
    _ids = itertools.count(1)

    def on_start(self) -> None:
        self.nick = f"locust{os.getpid()}-{next(ChatUser._ids)}"  # unique across workers
        self.tokens = itertools.count(1)
        self.client.request("nick", f"/nick {self.nick}", f"* you are now {self.nick}")
        self.client.request("join", f"/join {self.room}", f"* you joined {self.room}")

    @task
    def chat(self) -> None:
        token = f"m{next(self.tokens)}"
        self.client.request("chat", f"/msg {self.nick} {token}",
                            f"[private] <{self.nick}> {token}")


class LogUser(NetlabUser):
    """A program logging to a netlab LogServer's ingest port, in the text protocol.

    Each task sends ``LOG|INFO||load <n> xxx...`` (``NETLAB_LOG_SIZE`` bytes of message,
    default 200) and succeeds when the server answers ``OK|<id>``: with ``ack="durable"``
    on the server, that is once the log is committed to disk, so the response time is the
    group commit's latency. Start the server with ``python -m netlab serve logs`` (port
    9999) or ``NETLAB_SERVE=logs``.
    """

    scenario = "log"
    request = None
    expect = None
    size = int(os.environ.get("NETLAB_LOG_SIZE", "200"))
    request_name = "log"
    wait_time = constant_pacing(0.01)

    @task
    def log(self) -> None:
        self.client.request()


class SwarmUser(User):
    """One Locust user that drives netlab's C++ load generator: many connections, high rates.

    Its connections run on native threads; every half second it reports the seconds the
    generator completed to Locust in one batch per second, so Locust's per-request Python cost
    does not cap the rate. Locust gets the counts exactly and an approximate latency
    distribution (50% at the second's p50, 40% at p90, 9% at p99, 1% at its max); netlab's
    exact percentiles over the whole run are logged when the user stops and kept in
    ``environment.netlab_results``. Settings (class attributes or environment):
    ``connections`` (NETLAB_SWARM_CONNECTIONS, default 50), ``threads`` (1), ``rate``
    (NETLAB_SWARM_RATE, total requests/s; unset: closed loop), and the scenario attributes of
    :class:`NetlabUser` (default: ping-pong lines).
    """

    wait_time = constant(0)
    scenario = "line"
    request: Optional[bytes] = b"ping"
    expect: Optional[bytes] = b"pong"
    size = 64
    codec: Optional[Codec] = None
    connections = int(os.environ.get("NETLAB_SWARM_CONNECTIONS", "50"))
    threads = 1
    rate: Optional[float] = float(os.environ["NETLAB_SWARM_RATE"]) if os.environ.get(
        "NETLAB_SWARM_RATE") else None
    request_name = "swarm"
    report_interval = 0.5

    def on_start(self) -> None:
        host, port = parse_tcp_host(self.host)
        self.generator = LoadGenerator(
            host, port, scenario=self.scenario, connections=self.connections,
            threads=self.threads, duration=7 * 24 * 3600.0, rate=self.rate, size=self.size,
            request=self.request, expect=self.expect, codec=self.codec).start()

    @task
    def swarm(self) -> None:
        while True:
            gevent.sleep(self.report_interval)  # the hub runs; native threads do the work
            self._report(self.generator.poll()["new_seconds"])

    def _report(self, seconds: list[TimelineSecond]) -> None:
        # RequestStats.log_request is Locust's public way to count one request; at about
        # 1.6 us a call it keeps counts exact up to several hundred thousand responses/s.
        stats = self.environment.stats
        for s in seconds:
            n = int(s["responses"])
            size = int(s["bytes_in"] // n) if n else 0
            shares = [(s["p50_ms"], n // 2), (s["p90_ms"], n * 4 // 10), (s["p99_ms"], n * 9 // 100)]
            shares.append((s["max_ms"], n - sum(count for _, count in shares)))
            for response_time, count in shares:
                for _ in range(count):
                    stats.log_request("TCP", self.request_name, response_time, size)
            for _ in range(int(s["errors"])):
                stats.log_error("TCP", self.request_name,
                                TcpRequestError("failed", "see netlab's error report"))

    def on_stop(self) -> None:
        generator = getattr(self, "generator", None)
        if generator is None:
            return
        generator.stop()
        while not generator.finished:
            gevent.sleep(0.01)
        self._report(generator.poll()["new_seconds"])
        result: LoadResult = generator.result()
        results = getattr(self.environment, "netlab_results", [])
        results.append(result)
        self.environment.netlab_results = results
        log.info("netlab swarm: %s", result.summary().replace("\n", "\n    "))


__all__ = ["ChatUser", "ConstantPingUser", "EchoUser", "LogUser", "NetlabUser", "PingUser", "SwarmUser", "TcpClient",
           "TcpRequestError", "parse_tcp_host"]


# The HTTP user lives in its own module; it is imported here so locustfiles need one import.
from netlab.locust_http import FastHttpUser, HttpResponse, HttpSession, NetlabHttpUser  # noqa: E402
