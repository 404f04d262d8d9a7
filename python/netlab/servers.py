"""Servers: one protocol each, under any I/O model (``epoll``, ``threaded``, ``select``,
``poll``).

The protocol and the I/O model both live in C++; these classes only configure, start, stop
and observe them. Every blocking call releases the GIL.
"""

from __future__ import annotations

import enum
import inspect
import logging
import os
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any, ClassVar, Optional, cast

from netlab import _core, _options
from netlab._types import ChatStats, FileStats, HttpProxyStats, HttpStats, ServerStats
from netlab.codecs import Codec

log = logging.getLogger("netlab.server")

SERVER_OPTIONS: list[dict[str, Any]] = list(_core.server_options())
"""Every server option as the C++ engine defines it: name, type, default, min, max, unit,
help, none_allowed (None means 0: no limit, never), choices. The keyword arguments of every
server class, the CLI's flags and the README's tables come from this list."""

APPS: dict[str, dict[str, Any]] = {app["name"]: app for app in _core.apps()}
"""Every app the engine serves, by name: its summary, its own options (as SERVER_OPTIONS),
whether it takes a codec, and the load-generator scenario that speaks it."""

DEFAULTS: dict[str, Any] = {o["name"]: o["default"] for o in SERVER_OPTIONS}
"""Every server option's default (None where it means "no limit" or "never")."""
DEFAULTS["select_max_connections"] = _core.SELECT_MAX_CONNECTIONS

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
    DENIED = "denied"


class _Terminated(Exception):
    """SIGTERM arrived while serve() was blocking."""


class Server:
    """A TCP server whose protocol and I/O run natively; subclasses name their app.

    Args:
        port: TCP port; 0 picks a free one (read it back from ``.port`` after ``start()``).
        host: numeric address to bind, or ``"localhost"``.
        codec: for apps that take one (echo, chat): a :mod:`netlab.codecs` codec.
        **options: any server option (``SERVER_OPTIONS``) or option of the app
            (``APPS[app]["options"]``), by name; the class's signature and docstring list
            them all with their defaults, as the C++ tables define them. Where a limit or a
            timeout takes None, None means no limit or never.

    Raises:
        ValueError: an option is out of range (the message names it and its range).
        TypeError: the app has no option of that name.
    """

    app: ClassVar[str] = ""

    def __init__(self, port: int = 12345, host: str = "127.0.0.1", *,
                 codec: Optional[Codec] = None, **options: Any) -> None:
        self._host = host
        self._native = _core.Server(self.app, codec, port=port, host=host, **options)
        self._model: str = self._native.option_values()["model"]

    def options(self) -> dict[str, Any]:
        """Every option, the server's and the app's, as the running engine holds them."""
        return dict(self._native.option_values())

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
        stats: ServerStats = self._native.stats()
        return stats

    def _with_protocol_stats(self) -> dict[str, Any]:
        """The server's counters with its protocol's own (chat, http, http-proxy)."""
        stats: dict[str, Any] = dict(self._native.stats())
        stats.update(getattr(self._native.protocol, "snapshot")())
        return stats

    def events(self) -> list[str]:
        """Connection events since the last call (only with ``log_connections=True``)."""
        return self._native.drain_events()

    def listen(self) -> "Server":
        """Bind and listen without starting a thread: ``serve()`` then runs the event loop
        on the calling thread, so the process keeps one thread (Redis's design; each system
        call on a socket is cheaper in a single-threaded process). Clients that connect
        before ``serve()`` wait in the listen backlog. Models that need threads (threaded,
        or several workers) start them here, as ``start()`` does.

        Raises:
            OSError: binding failed (``errno.EADDRINUSE`` when the port is taken).
        """
        self._native.start(on_this_thread=True)
        return self

    def serve(self, poll_interval: float = 0.1) -> None:
        """Serve until Ctrl+C, SIGTERM or ``stop()``, then stop cleanly.

        Not yet started (or after ``listen()``), a one-worker epoll, poll or select server
        runs its event loop right here, in slices of ``poll_interval`` seconds; a signal
        ends the slice at once, so Ctrl+C is handled promptly. Otherwise the native threads
        serve and this thread only sleeps in short steps.
        """
        if not self.running:
            self.listen()
        restore = self._install_sigterm()
        try:
            while self.running:
                if self._native.serves_here:
                    self._native.serve_here(poll_interval)
                else:
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

    app = "echo"


class PingPongServer(Server):
    """Line protocol: ``ping`` (any case, ``\\n`` or ``\\r\\n``) gets ``pong``; any other line
    gets ``received: <line>``. A line longer than ``max_line`` bytes gets an error line and
    the connection is closed."""

    app = "pingpong"


class ChatServer(Server):
    """Broadcast chat with nicknames, rooms and private messages.

    A plain line goes to every other member of the sender's room as ``<nick> text``; a raw
    client such as ``nc`` is ``guest<N>`` in ``lobby`` at once. Commands: ``/nick NAME``,
    ``/join ROOM``, ``/msg NAME text``, ``/who``, ``/rooms``, ``/help``, ``/quit`` (or a bare
    ``exit``). Notices start with ``* ``, errors with ``error: ``.

    Relayed text has control characters other than tab (and invalid UTF-8) replaced by
    ``?``, so one member cannot send terminal escapes to everyone. ``/who`` and ``/rooms``
    answer 50 names a page (``/who 2`` for the next).

    ``max_clients`` is another name for ``max_connections`` (connections beyond it are told
    ``error: server full`` and closed). ``codec=HeaderCodec()`` selects the binary mode
    (CLIENT_CHAT in; SERVER_ACK, SERVER_ECHO and SERVER_INFO out).
    """

    app = "chat"

    def __init__(self, port: int = 12345, host: str = "127.0.0.1", *,
                 codec: Optional[Codec] = None, max_clients: Optional[int] = None,
                 **options: Any) -> None:
        if max_clients is not None:
            options["max_connections"] = max_clients
        super().__init__(port, host, codec=codec, **options)

    def stats(self) -> ChatStats:
        """Server counters plus ``rooms`` (members per room), ``members`` and
        ``messages_relayed``."""
        return cast(ChatStats, self._with_protocol_stats())


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse_target(target: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:8080"`` for IPv6; ``":8080"`` is 127.0.0.1) as
    ``(host, port)``, split as the relay splits its target.

    Raises:
        ValueError: no port, or a port outside 1-65535.
    """
    host, port = _core.parse_target(target)
    return host, port


class RelayServer(Server):
    """A TCP port forwarder: each client gets its own connection to ``target`` and bytes flow
    both ways (muduo's tunnel, HAProxy's TCP mode).

    Each direction's backpressure pauses reading on the other side, so a slow end costs
    about ``high_water`` bytes per direction; a half-close (EOF) is passed on; a target that
    refuses, is unreachable or does not answer within ``connect_timeout`` closes the client
    (counted in ``stats()["closes"]`` as ``refused``, ``unreachable`` or
    ``connect_timeout``, and logged). Under ``select`` each client costs two sockets, so the
    default connection cap is 450.
    """

    app = "relay"

    @property
    def target(self) -> str:
        return str(self._native.option_values()["target"])


class HttpServer(Server):
    """An httpbin-like HTTP/1.1 origin, for tests, benchmarks and demos on machines that
    cannot reach httpbin.org.

    Routes: ``/`` (a short text), ``/get`` (the request as JSON: args, headers, origin,
    url), ``/post``, ``/put``, ``/patch``, ``/delete`` and ``/anything`` (the same, plus
    the method and the body's ``body_size`` and ``body_sha256``), ``/bytes/N`` (N bytes of
    a repeating 64-character alphabet), ``/stream/N`` (N JSON lines, chunked),
    ``/delay/MS`` (``/get``'s answer after MS milliseconds, on a timer),
    ``/status/CODE``, ``/headers``, ``/ip``. Unknown paths get 404, a wrong method 405 with
    ``Allow``, OPTIONS 204 with ``Allow``.

    Keep-alive, pipelining (answered in order), HEAD, ``Expect: 100-continue``, chunked
    request bodies. Bodies are hashed as they stream past and never held; past
    ``body_limit`` the answer is 413 and the connection closes. Malformed requests (the
    request-smuggling shapes included) get 400 and a close; ``max_headers``,
    ``max_header_line`` and ``max_head`` bound the head (431, or 414 for the request line).

    ``stats()`` adds ``requests`` by method and ``responses`` by status class.
    """

    app = "http"

    def stats(self) -> HttpStats:
        """Server counters plus ``requests`` (by method) and ``responses`` (by status
        class)."""
        return cast(HttpStats, self._with_protocol_stats())

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        return _http_url(self._host, self.port)


class HttpProxy(Server):
    """An HTTP/1.1 reverse proxy: each request goes to one of ``upstreams`` (``"host:port"``
    strings, each optionally followed by ``"weight=N"``) and its response is streamed back.

    Request and response bodies stream through with backpressure both ways (a slow client
    pauses reading from the upstream and the reverse), so memory per connection stays
    bounded whatever the body size. Hop-by-hop fields are removed (Connection and what it
    names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) and the framing
    written anew; X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Via are added.

    Balancing: ``balance="round-robin"`` (nginx's smooth weighted round-robin, the default)
    or ``"least-conn"`` (fewest requests in flight per weight). Upstream connections are kept
    alive in a pool per thread that every client shares (``keepalive`` idle ones per
    upstream, closed after ``keepalive_timeout``). An upstream that fails ``max_fails`` times
    within ``fail_timeout`` is skipped for ``fail_timeout`` (nginx's 1 and 10 s). A request
    whose upstream refuses the connection goes to the next upstream; an idempotent, bodiless
    one whose connection dies before any answer (a pooled connection the upstream had just
    closed) is sent once more on a new connection. Past that, a refused, reset or
    unreachable upstream gives 502, one that does not connect within ``connect_timeout`` or
    falls silent for ``upstream_timeout`` 504 (both nginx's 60 s by default), a malformed
    request 400 (431 or 414 past the head limits), each with a short body saying why.

    Configuration may change requests and refuse some: ``set_headers`` (a dict, or
    ``"Name: value"`` strings) replaces or adds request fields on the way to the upstream
    (``{"Authorization": "Bearer ..."}``), ``remove_headers`` removes some; ``deny`` rules
    (``"method=DELETE path=/admin from=10.0.0.0/8"``: a request meeting every condition of a
    rule) are answered 403, and past ``rate_limit`` requests a second per client address
    (bursts of ``rate_burst``) 429 with Retry-After.

    ``CONNECT host:port`` opens a tunnel (HTTPS through the proxy, ``curl -p -x``) only to
    targets on ``connect_allow`` (``["127.0.0.1:8443", "10.0.0.0/8:443"]``:
    entries are names, addresses, blocks such as ``10.0.0.0/8`` or ``*``, with a port or
    ``*``); the proxy answers ``200 Connection Established`` once the target has accepted and
    relays bytes both ways from then on. Everything else gets 403.

    ``health_check="/healthz"`` asks every upstream for that path each ``health_interval``
    seconds, from a loop and thread of its own; ``health_fails`` failed checks in a row
    (refused, timed out, closed, or an answer other than 2xx/3xx) mark it down until
    ``health_passes`` pass in a row.

    ``access_log`` names a file each exchange is appended to as a line in the Combined Log
    Format followed by the upstream, its time and the request's time (nginx's
    ``$upstream_addr $upstream_response_time $request_time``); a thread of its own writes
    it, so a slow disk never stalls the loop (past 8 MiB behind, lines are dropped and
    counted). A request the client abandoned before any answer is logged 499.

    ``cache_size`` (bytes; 0, the default, means none) keeps complete responses to GET in
    memory, as RFC 9111 lets a shared cache: fresh for as long as ``Cache-Control``
    (``s-maxage``, ``max-age``) or ``Expires`` says, never ``no-store``, ``private``, ``Vary:
    *`` or ``Set-Cookie`` ones, one variant per value of the fields ``Vary`` names; a stale
    entry with an ``ETag`` or ``Last-Modified`` is revalidated (the upstream's 304 refreshes
    it), and clients' own conditional requests are answered 304 from it. Least recently used
    entries go first; bodies past ``cache_max_entry`` stream through unstored, and a response
    is stored only once it has arrived whole. While one request fetches a key nobody has,
    the others for that key wait for it (up to 5 s) and are served from the cache when it
    has been stored. Responses say ``X-Cache: HIT``, ``MISS``, ``REVALIDATED`` or ``BYPASS``
    (a request with ``no-store`` or ``Authorization``); ``purge()`` drops entries.

    ``gzip=True`` compresses responses for clients whose ``Accept-Encoding`` admits gzip
    (q-values honoured) when their type is on ``gzip_types`` (``text/*``, JSON, JavaScript,
    XML and SVG by default), they are at least ``gzip_min_length`` bytes long and not encoded
    already; HEAD, 304 and ``Cache-Control: no-transform`` pass untouched. The body is
    streamed through zlib at ``gzip_level`` piece by piece (never held whole) and sent
    chunked, with ``Content-Encoding: gzip`` and ``Vary: Accept-Encoding``.

    ``stats()`` adds ``responses`` by status class and ``statuses`` by code,
    ``upstream_connects``, ``upstream_reuses``, ``upstream_failures``, ``retries``,
    ``upstream_requests`` by upstream, ``pool_idle``, ``upstreams_down``, ``denied``,
    ``rate_limited``, ``tunnels``, ``cache_hits``, ``cache_misses``, ``cache_revalidations``,
    ``cache_bypasses``, ``cache_evictions``, ``cache_bytes``, ``cache_entries``, ``gzipped``,
    ``health_checks``, ``health_check_failures``,
    ``access_log_bytes``, ``access_log_dropped`` and ``access_log_errors``.
    """

    app = "http-proxy"

    def __init__(self, port: int = 8080, host: str = "127.0.0.1", *,
                 upstreams: Any = None, **options: Any) -> None:
        if upstreams is not None and not isinstance(upstreams, str):
            upstreams = " ".join(upstreams)
        if upstreams is not None:
            options["upstreams"] = upstreams
        # Lists and mappings as Python users hold them; the engine takes text.
        edits = options.get("set_headers")
        if isinstance(edits, dict):
            options["set_headers"] = "\n".join(f"{k}: {v}" for k, v in edits.items())
        elif edits is not None and not isinstance(edits, str):
            options["set_headers"] = "\n".join(edits)
        if options.get("access_log") is not None:
            options["access_log"] = os.fspath(options["access_log"])
        for name, separator in (("remove_headers", " "), ("deny", "; "), ("connect_allow", " "),
                                ("gzip_types", " ")):
            value = options.get(name)
            if value is not None and not isinstance(value, str):
                options[name] = separator.join(value)
        super().__init__(port, host, **options)

    def stats(self) -> HttpProxyStats:
        """Server counters plus ``responses`` by status class and the upstream counts."""
        return cast(HttpProxyStats, self._with_protocol_stats())

    def purge(self, target: str | None = None) -> int:
        """Drops the cached responses for ``target`` (``"/path?query"``, on every host), or
        every cached response; returns how many were dropped."""
        return int(getattr(self._native.protocol, "purge")(target or ""))

    @property
    def url(self) -> str:
        """``http://host:port`` of the running proxy."""
        return _http_url(self._host, self.port)


class FileServer(Server):
    """A file server over ``root`` (created if missing): the classic ``UPLOAD``/``DOWNLOAD``
    line protocol made safe, and HTTP/1.1, on one port. A connection's first bytes decide
    which it speaks (an HTTP method, or a line command; a client silent for
    ``sniff_timeout`` gets the line protocol).

    Line protocol, one command a line:

    - ``UPLOAD <name> <size> [<sha256>]`` then exactly ``size`` bytes: ``OK <size> <sha256>``
      or ``ERR <reason>``.
    - ``RESUME <name> <size> [<sha256>]``: ``OFFSET <n>`` (what a partial upload of that name
      and size already holds), then the bytes from ``n``; answered as ``UPLOAD``.
    - ``DOWNLOAD <name> <offset>``: ``SIZE <size> <sha256>`` then the bytes from ``offset``.
    - ``STAT <name>``: ``FILE <size> <sha256>``, ``PARTIAL <have> <size>`` or ``NOFILE``.
    - ``LIST [<dir>]``: ``FILE <size> <name>`` and ``DIR <name>`` lines, then ``END <n>``.
    - ``QUIT``. The connection stays open between commands.
    - The classic client's ``UPLOAD <name>`` and ``DOWNLOAD <name>`` behave byte for byte as
      the classic C server: a bare ``OK`` (no newline), then the bytes until the client
      (upload) or the server (download) closes; any refusal is a bare ``NOFILE`` and a close.

    HTTP: ``GET``/``HEAD`` of a file with one ``Range`` (206, 416), ``ETag``,
    ``Last-Modified``, ``If-None-Match``/``If-Modified-Since`` (304) and ``If-Range``;
    a directory gets a plain HTML listing; ``PUT`` uploads (201 created, 200 replaced; an
    ``X-Checksum-Sha256`` field is checked). So ``curl -O``, ``curl -C -``, ``wget -c`` and
    ``curl -T`` work.

    Downloads leave through sendfile(2). Uploads are written by ``disk_threads`` threads into
    ``root/.netlab/partial`` (never listed or served); a connection whose writes fall behind
    stops being read. At the end the file is fsynced, its size and sha256 checked, and it is
    renamed into place, so readers see the old file or the whole new one. While a name is
    being uploaded, a second upload of it is refused (``ERR busy``, HTTP 409). An upload that
    sends nothing for ``upload_timeout`` is cut; sized uploads keep their partial for
    ``RESUME`` for ``partial_ttl`` (24 h). The sha256 of an uploaded file is kept in
    ``root/.netlab/sums``; other files are hashed once, on a disk thread, when first asked.

    Names are paths under the root: no ``..``, no absolute path, no control character, and
    no symlink that leads out (resolved with ``openat2(RESOLVE_BENEATH)``). Limits:
    ``max_file`` (413), ``quota`` (507, partial uploads count), ``max_uploads`` (503).
    """

    app = "files"

    @property
    def root(self) -> str:
        """The directory served."""
        return str(self._native.option_values()["root"])

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        return _http_url(self._host, self.port)

    def stats(self) -> FileStats:
        """Server counters plus ``files_stored``, ``files_served``, ``sendfile_bytes``,
        ``resumes``, ``files_hashed``, ``used_bytes``, ``refusals`` (by reason) and
        ``protocols`` (connections by protocol)."""
        return cast(FileStats, self._with_protocol_stats())


class LogIngestServer(Server):
    """A log collector's ingest port alone (``LogServer`` runs it beside a query port over
    the same store): ``LOG|<level>|<timestamp>|<message>`` lines answered ``OK|<id>``."""

    app = "logs"


class LogSyslogServer(Server):
    """A log collector's syslog port alone, over the store in ``data_dir``: RFC 5424 and
    RFC 3164 over TCP, octet-counted or LF-framed."""

    app = "logs-syslog"


class LogQueryServer(Server):
    """A log collector's query port alone, over the store in ``data_dir``:
    ``QUERY|KEYWORD|<word>`` and the other forms ``LogServer`` documents."""

    app = "logs-query"


def options_markdown() -> str:
    """The README's option tables, made from the engine's: one for every server, one per app.
    ``python -m netlab options`` prints them."""

    table = _options.markdown_table
    lines = ["Every server:", ""] + table(SERVER_OPTIONS)
    for name, app in APPS.items():
        if app["options"]:
            codec = "; takes `codec=`" if app["takes_codec"] else ""
            lines += ["", f"`{name}` ({app['summary']}{codec}):", ""] + table(app["options"])
    return "\n".join(lines) + "\n"


SERVERS: dict[str, type[Server]] = {}
"""A server class for every app in the engine's registry, by app name."""


def _describe(cls: type[Server]) -> None:
    """Gives ``cls`` the signature and the option list of its app, from the C++ tables."""
    app = APPS[cls.app]
    leading = [_options.positional("self"), _options.positional("port", 12345, int),
               _options.positional("host", "127.0.0.1", str)]
    if app["takes_codec"]:
        leading.append(inspect.Parameter("codec", inspect.Parameter.KEYWORD_ONLY, default=None,
                                         annotation=Optional[Codec]))
    # A subclass without its own __init__ shares Server's: give it its own to describe.
    if "__init__" not in cls.__dict__:
        def __init__(self: Server, *args: Any, **kwargs: Any) -> None:
            Server.__init__(self, *args, **kwargs)
        cls.__init__ = __init__  # type: ignore[method-assign]
    _options.describe(cls.__init__, cls, leading, app["options"] + SERVER_OPTIONS,
                      skip=("port", "host"))
    SERVERS[cls.app] = cls


for _cls in (EchoServer, PingPongServer, ChatServer, RelayServer, HttpServer, HttpProxy,
             FileServer, LogIngestServer, LogSyslogServer, LogQueryServer):
    _describe(_cls)
for _name in APPS:  # an app with no class of its own yet still gets one
    if _name not in SERVERS:
        _describe(type(f"{_name.title()}Server", (Server,), {"app": _name,
                                                             "__doc__": APPS[_name]["summary"]}))
