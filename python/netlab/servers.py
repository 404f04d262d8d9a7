"""Servers: one protocol each, under any I/O model (``epoll``, ``threaded``, ``select``,
``poll``).

The protocol and the I/O model both live in C++; these classes only configure, start, stop
and observe them. Every blocking call releases the GIL.
"""

from __future__ import annotations

import enum
import logging
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any, Optional, TypedDict

from netlab import _core
from netlab.codecs import Codec

log = logging.getLogger("netlab.server")

DEFAULTS: dict[str, Any] = dict(_core.server_defaults())
"""Every server option's default, as the C++ engine defines it (also the CLI's defaults)."""

DEFAULT_HIGH_WATER: int = DEFAULTS["high_water"]
"""Queued output (bytes) past which a connection is no longer read, per connection."""


class CloseKind(str, enum.Enum):
    """Why a connection ended: the keys of ``stats()["closes"]``. The engine decides by kind,
    never by the text it logs."""

    PEER_CLOSED = "peer_closed"
    RESET = "reset"
    IDLE_TIMEOUT = "idle_timeout"
    MESSAGE_TIMEOUT = "message_timeout"
    SLOW_CONSUMER = "slow_consumer"
    INPUT_TOO_LARGE = "input_too_large"
    INPUT_MEMORY = "input_memory"
    SERVER_FULL = "server_full"
    PROTOCOL_ERROR = "protocol_error"
    IO_ERROR = "io_error"
    SERVER_STOPPING = "server_stopping"
    LOCAL_CLOSE = "local_close"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    CONNECT_TIMEOUT = "connect_timeout"
    NO_FDS = "no_fds"
    NO_PORTS = "no_ports"


class ServerStats(TypedDict):
    """Exact counters of a server since it was created (they survive ``stop()``)."""

    model: str
    protocol: str
    workers: int
    threads: int
    connections_active: int
    connections_total: int
    connections_rejected: int
    bytes_in: int
    bytes_out: int
    messages_in: int
    messages_out: int
    errors: int
    dropped_slow: int
    timeouts: int
    closes: dict[str, int]
    """Connections closed, by CloseKind value (refusals at admission count as server_full)."""


class _Terminated(Exception):
    """SIGTERM arrived while serve() was blocking."""


class Server:
    """A TCP server whose protocol and I/O run natively.

    Args:
        port: TCP port; 0 picks a free one (read it back from ``.port`` after ``start()``).
        host: numeric address to bind, or ``"localhost"``.
        model: ``"epoll"`` (default), ``"threaded"`` (a thread per connection), ``"select"``
            or ``"poll"``.
        workers: event-loop threads for ``epoll``; they share one listening socket.
        high_water: bytes of queued output after which a connection stops being read.
        idle_timeout: seconds with nothing read or written after which a connection is closed
            (default 300; None: never).
        message_timeout: a message must be complete this many seconds after its first byte,
            so a client dripping bytes cannot hold a connection (default 30; None: no limit).
        max_connections: connections beyond this are told "server full" and closed (None:
            no limit; ``select`` defaults to 900, below FD_SETSIZE).
        max_connections_per_ip: connections one peer address may hold (None: no limit).
        max_input_memory: bytes all connections together may hold in partial messages; the
            connection that would pass it is closed (default 64 MiB).
        backlog: listen backlog (the kernel caps it at net.core.somaxconn).

    Raises:
        ValueError: an option is out of range (the message names it and its range).
        log_connections: keep a line per connection event, drained by ``events()`` and logged
            by ``serve()`` to the ``netlab.server`` logger.
    """

    def __init__(
        self,
        port: int = 12345,
        host: str = "127.0.0.1",
        *,
        model: str = "epoll",
        workers: int = DEFAULTS["workers"],
        high_water: int = DEFAULT_HIGH_WATER,
        idle_timeout: Optional[float] = DEFAULTS["idle_timeout"],
        message_timeout: Optional[float] = DEFAULTS["message_timeout"],
        max_connections: Optional[int] = None,
        max_connections_per_ip: Optional[int] = None,
        max_input_memory: int = DEFAULTS["max_input_memory"],
        backlog: int = DEFAULTS["backlog"],
        log_connections: bool = False,
    ) -> None:
        self._host = host
        self._native = _core.Server(
            self._protocol(),
            host,
            port,
            model,
            workers,
            high_water,
            0.0 if idle_timeout is None else float(idle_timeout),
            0.0 if message_timeout is None else float(message_timeout),
            0 if max_connections is None else max_connections,
            0 if max_connections_per_ip is None else max_connections_per_ip,
            max_input_memory,
            backlog,
            log_connections,
        )
        self._model = model

    def _protocol(self) -> _core.Protocol:
        raise NotImplementedError

    @property
    def port(self) -> int:
        """The bound port (meaningful once started; the real one when 0 was asked for)."""
        return self._native.port

    @property
    def host(self) -> str:
        return self._host

    @property
    def model(self) -> str:
        return self._model

    @property
    def running(self) -> bool:
        return self._native.running

    def start(self) -> "Server":
        """Listen and serve on native threads; returns once the port accepts connections.

        Raises:
            OSError: binding failed (``errno.EADDRINUSE`` when the port is taken).
        """
        self._native.start()
        return self

    def stop(self) -> None:
        """Close every connection and the listening port. Safe to call more than once."""
        self._native.stop()

    def stats(self) -> ServerStats:
        """A snapshot of the server's exact counters."""
        return self._native.stats()  # type: ignore[return-value]

    def events(self) -> list[str]:
        """Connection events since the last call (only with ``log_connections=True``)."""
        return self._native.drain_events()

    def serve(self, poll_interval: float = 0.1) -> None:
        """Start if needed and block until Ctrl+C or SIGTERM, then stop cleanly.

        The native threads do the serving; this thread only sleeps in short steps, so
        signals are handled promptly.
        """
        if not self.running:
            self.start()
        restore = self._install_sigterm()
        try:
            while self.running:
                time.sleep(poll_interval)
                self._log_events()
        except (KeyboardInterrupt, _Terminated):
            pass
        finally:
            if restore is not None:
                signal.signal(signal.SIGTERM, restore)
            self.stop()
            self._log_events()

    def _log_events(self) -> None:
        for line in self._native.drain_events():
            log.info("%s", line)

    @staticmethod
    def _install_sigterm() -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None

        def on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
            raise _Terminated()

        return signal.signal(signal.SIGTERM, on_sigterm)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self._host}:{self.port} model={self._model} {state}>"


class EchoServer(Server):
    """RFC 862 echo: every byte comes back unchanged until the client closes.

    With ``codec=`` (any :mod:`netlab.codecs` codec) it echoes frame by frame: each decoded
    frame is encoded again and sent back; a malformed frame closes the connection.

    ``stall_at``/``stall_for`` inject one pause, to see what a stall does to latency figures:
    the first message handled ``stall_at`` seconds after the server was created makes its
    thread sleep ``stall_for`` seconds (under epoll the whole loop pauses).
    """

    def __init__(self, port: int = 12345, host: str = "127.0.0.1", *,
                 codec: Optional[Codec] = None, stall_at: Optional[float] = None,
                 stall_for: float = 0.0, **options: Any) -> None:
        self._codec = codec
        self._stall = (stall_at, stall_for)
        super().__init__(port, host, **options)

    def _protocol(self) -> _core.Protocol:
        return _core.EchoProtocol(self._codec, self._stall[0], self._stall[1])


class PingPongServer(Server):
    """Line protocol: ``ping`` (any case, ``\\n`` or ``\\r\\n``) gets ``pong``; any other line
    gets ``received: <line>``. A line longer than ``max_line`` bytes gets an error line and
    the connection is closed."""

    def __init__(self, port: int = 12345, host: str = "127.0.0.1", *, max_line: int = 65536,
                 **options: Any) -> None:
        self._max_line = max_line
        super().__init__(port, host, **options)

    def _protocol(self) -> _core.Protocol:
        return _core.PingPongProtocol(self._max_line)


class ChatServer(Server):
    """Broadcast chat with nicknames, rooms and private messages.

    A plain line goes to every other member of the sender's room as ``<nick> text``; a raw
    client such as ``nc`` is ``guest<N>`` in ``lobby`` at once. Commands: ``/nick NAME``,
    ``/join ROOM``, ``/msg NAME text``, ``/who``, ``/rooms``, ``/help``, ``/quit`` (or a bare
    ``exit``). Notices start with ``* ``, errors with ``error: ``.

    Relayed text has control characters other than tab (and invalid UTF-8) replaced by
    ``?``, so one member cannot send terminal escapes to everyone. ``/who`` and ``/rooms``
    answer 50 names a page (``/who 2`` for the next).

    Args:
        max_line: longest accepted line (bytes); a longer one closes the connection.
        max_queue: output a client may have waiting; past it the client is dropped as too
            slow, so one stalled reader never slows the room or grows server memory.
        announce_limit: rooms with more members than this are not told of joins, leaves and
            nick changes (N clients joining would otherwise cost N^2/2 notices).
        max_clients: connections beyond this are told ``error: server full`` and closed.
        codec: ``HeaderCodec()`` for the binary mode (CLIENT_CHAT in; SERVER_ACK,
            SERVER_ECHO and SERVER_INFO out).
    """

    def __init__(self, port: int = 12345, host: str = "127.0.0.1", *, max_line: int = 4096,
                 max_queue: int = 1 << 20, max_clients: Optional[int] = None,
                 codec: Optional[Codec] = None, announce_limit: int = 100,
                 **options: Any) -> None:
        self._chat = _core.ChatProtocol(max_line, max_queue, codec, announce_limit)
        limit = options.pop("max_connections", None) if max_clients is None else max_clients
        super().__init__(port, host, max_connections=limit, **options)

    def _protocol(self) -> _core.Protocol:
        return self._chat

    def stats(self) -> ServerStats:
        """Server counters plus ``rooms`` (members per room), ``members`` and
        ``messages_relayed``."""
        stats: dict[str, Any] = dict(self._native.stats())
        stats.update(self._chat.snapshot())
        return stats  # type: ignore[return-value]


def parse_target(target: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:8080"`` for IPv6; ``":8080"`` is 127.0.0.1) as
    ``(host, port)``.

    Raises:
        ValueError: no port, or a port outside 1-65535.
    """
    host, sep, port_text = target.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"target must be host:port (got {target!r})")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"target port must be between 1 and 65535 (got {port})")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "127.0.0.1", port


class RelayServer(Server):
    """A TCP port forwarder: each client gets its own connection to ``target`` and bytes flow
    both ways (muduo's tunnel, HAProxy's TCP mode).

    Each direction's backpressure pauses reading on the other side, so a slow end costs
    about ``high_water`` bytes per direction; a half-close (EOF) is passed on; a target that
    refuses, is unreachable or does not answer within ``connect_timeout`` closes the client
    (counted in ``stats()["closes"]`` as ``refused``, ``unreachable`` or
    ``connect_timeout``, and logged). Under ``select`` each client costs two sockets, so the
    default connection cap is 450.

    Args:
        target: ``"host:port"`` to forward to.
        connect_timeout: seconds to wait for the target to accept.
    """

    def __init__(self, port: int = 12345, host: str = "127.0.0.1", *, target: str,
                 connect_timeout: float = 5.0, **options: Any) -> None:
        self._target = target
        target_host, target_port = parse_target(target)
        self._relay = _core.RelayProtocol(target_host, target_port, connect_timeout)
        super().__init__(port, host, **options)

    @property
    def target(self) -> str:
        return self._target

    def _protocol(self) -> _core.Protocol:
        return self._relay
