"""LogServer: a log collector with an ingest port and a query port over one durable store.

Each port is a native server of its own (so each can have its own limits); they share the
durable store of their data directory::

    with netlab.LogServer(9999, query_port=9998, data_dir="logs") as server:
        ...  # nc 127.0.0.1 9999 <<< 'LOG|ERROR|2026-11-23T10:00:00Z|disk full'
        server.query(keyword="disk")  # [{'id': 1, 'level': 'ERROR', ...}]
"""

from __future__ import annotations

import signal
import time
from types import TracebackType
from typing import Any, Optional, Union

from netlab import _core
from netlab.servers import APPS, SERVER_OPTIONS, Server, _Terminated

_QUERY_ONLY = {o["name"] for o in APPS["logs-query"]["options"]} - {"data_dir"}
_SYSLOG = {o["name"] for o in APPS["logs-syslog"]["options"]}
_INGEST = {o["name"] for o in APPS["logs"]["options"]}
_SERVER_NAMES = {o["name"] for o in SERVER_OPTIONS}

Time = Union[float, str]
"""Seconds since the epoch, or an RFC 3339 string such as ``"2026-11-23T10:00:00Z"``."""


class LogServer:
    """A log collector: the guide's LogCaster, with its ingest and query ports.

    Ingest (``port``, default 9999), a line each: ``LOG|<level>|<timestamp>|<message>``
    answered ``OK|<id>`` (or ``ERROR|<reason>``), and the older ``LOG:<timestamp>:<level>:
    <message>`` answered ``ACK``. Levels are syslog's severities by name (EMERG, ALERT,
    CRIT/FATAL, ERROR, WARN, NOTICE, INFO, DEBUG) or 0-7; timestamps are Unix seconds or
    RFC 3339 (empty: now). A message longer than ``max_message`` is stored truncated and
    flagged, never dropped.

    Syslog (``syslog_port``, default 5514; 6514 stays for syslog over TLS): RFC 5424 and RFC
    3164 messages over TCP, framed by octet counting or LF (RFC 6587), told apart per message.
    The severity, time, host and app are kept; a message in neither format is kept whole and
    flagged (``parse_error``); a frame over ``max_message`` is kept truncated and flagged.

    Query (``query_port``, default 9998; None for none): ``QUERY|KEYWORD|<word>``,
    ``QUERY|LEVEL|<level>``, or ``QUERY|keyword=..|level=..|max_level=..|since=..|until=..
    |host=..|app=..|limit=..`` (all must match), answered ``RESULT|<n>``, one
    ``id|level|timestamp|message`` line per log (the newest ``limit``, oldest first), ``END``.

    The store, under ``data_dir``, is an append-only journal of logs written by one thread in
    batches (group commit), never by an event loop, and a block index in SQLite (each block's
    time range, levels and a Bloom filter of its words) that a background thread keeps. With
    ``ack="received"`` a LOG is answered once parsed; with ``ack="durable"`` once the batch
    holding it is committed, so an acknowledged log survives the process being killed at any
    moment (``sync="full"`` adds a power loss). When the writer falls 20,000 logs behind,
    ingest connections stop being read until it catches up.

    Every other keyword is a server option (``model``, ``workers``, limits) for every port,
    or an option of some: ``token`` for ingest and query, ``message_rate`` and
    ``max_message`` for ingest and syslog, ``ack``, ``sync`` and ``commit_delay`` for ingest
    (which opens the store; the other ports share it as it was opened), ``max_results`` and
    ``max_tail_queue`` for query.

    Each port has its own security policy, the guide's table made real: ``ingest_policy``,
    ``syslog_policy`` and ``query_policy`` are dicts of server options applied to that port
    alone: ``allow`` (addresses and CIDR blocks, IPv4 and IPv6; others are refused),
    ``connect_rate_per_ip`` (new connections a second per address), ``max_connections_per_ip``,
    ``message_rate`` (logs a second per address: past it the client is paused, nothing is
    dropped), ``token`` (text clients send ``AUTH|<token>`` first), ``max_message``. The
    defaults follow the guide: ingest open to everyone at 100 new connections a second per
    address; queries only from this machine (``allow="127.0.0.0/8 ::1"``) at 10 a second.
    Refusals are counted: ``stats()[port]["closes"]["denied"]`` (address, connection rate),
    ``bad_tokens``, ``rate_limited``, and logged with ``log_connections=True``.

    Forwarding (``forward``): every stored log goes on to upstream servers, given as
    ``"syslog://host:port"`` (RFC 5424, octet-counted, as rsyslog's imtcp reads it) or
    ``"logs://host:port"`` (another LogServer's ingest port), a list or a space-separated
    string in order of preference: when one fails, the next takes over, with backoff between
    rounds. Logs are read from the store, not memory, so an upstream that is down loses
    nothing; the position reached is saved in ``data_dir``. Plain TCP syslog has no
    acknowledgement: a log counts as delivered once the upstream's TCP acknowledged it and
    ``settle`` seconds passed, and what was not is sent again after a reconnect (at least
    once; ``stats()["forward"]["resent"]`` counts the possible duplicates). A LogServer
    upstream answers every log and recognises a resent one by its key: exactly once, when it
    runs with ``ack="durable"``. ``forward_options``: ``window``, ``timeout``, ``settle``,
    ``backoff_max``, ``name`` (see ``netlab._core.log_forward_options()``).
    """

    def __init__(self, port: Optional[int] = 9999, host: str = "127.0.0.1", *,
                 query_port: Optional[int] = 9998, syslog_port: Optional[int] = 5514,
                 query_host: Optional[str] = None,
                 ingest_policy: Optional[dict[str, Any]] = None,
                 syslog_policy: Optional[dict[str, Any]] = None,
                 query_policy: Optional[dict[str, Any]] = None,
                 forward: Union[str, list[str], None] = None,
                 forward_options: Optional[dict[str, Any]] = None, **options: Any) -> None:
        unknown = set(options) - _SERVER_NAMES - _QUERY_ONLY - _SYSLOG - {
            o["name"] for o in APPS["logs"]["options"]}
        if unknown:
            raise TypeError(f"LogServer has no option {sorted(unknown)[0]!r}")
        shared = {k: v for k, v in options.items() if k in _SERVER_NAMES}
        ingest = {k: v for k, v in options.items() if k not in _QUERY_ONLY or k in _INGEST}
        query = dict(shared, **{k: v for k, v in options.items() if k in _QUERY_ONLY})
        if "data_dir" in options:
            query["data_dir"] = options["data_dir"]
        # The guide's policy table: ingest open to all at 100 new connections a second per
        # address, queries from this machine only at 10 a second; each port's own dict wins.
        ingest = {"connect_rate_per_ip": 100, **ingest, **(ingest_policy or {})}
        query = {"allow": "127.0.0.0/8 ::1", "connect_rate_per_ip": 10, **query,
                 **(query_policy or {})}
        self._host = host
        self._servers: dict[str, Any] = {}
        if port is not None:
            self._servers["ingest"] = _core.Server("logs", None, port=port, host=host, **ingest)
        if syslog_port is not None:
            syslog = {**shared, **{k: v for k, v in options.items() if k in _SYSLOG},
                      **(syslog_policy or {})}
            self._servers["syslog"] = _core.Server("logs-syslog", None, port=syslog_port,
                                                   host=host, **syslog)
        if query_port is not None:
            self._servers["query"] = _core.Server("logs-query", None, port=query_port,
                                                  host=query_host or host, **query)
        if not self._servers:
            raise ValueError("LogServer needs at least one port")
        self._forward: Optional[dict[str, Any]] = None
        self._forwarder: Any = None
        if forward:
            upstreams = forward if isinstance(forward, str) else " ".join(forward)
            self._forward = {"upstreams": upstreams, **(forward_options or {})}
            if "data_dir" in options:
                self._forward["data_dir"] = options["data_dir"]
            known = {o["name"] for o in _core.log_forward_options()}
            unknown_forward = set(self._forward) - known
            if unknown_forward:
                raise TypeError(f"forward_options has no option {sorted(unknown_forward)[0]!r}")
        self._model: str = next(iter(self._servers.values())).option_values()["model"]

    @property
    def port(self) -> int:
        """The ingest port (0 when there is none)."""
        server = self._servers.get("ingest")
        return int(server.port) if server else 0

    @property
    def query_port(self) -> int:
        """The query port (0 when there is none)."""
        server = self._servers.get("query")
        return int(server.port) if server else 0

    @property
    def syslog_port(self) -> int:
        """The syslog port (0 when there is none)."""
        server = self._servers.get("syslog")
        return int(server.port) if server else 0

    @property
    def host(self) -> str:
        return self._host

    @property
    def model(self) -> str:
        return self._model

    @property
    def running(self) -> bool:
        return any(s.running for s in self._servers.values())

    def options(self) -> dict[str, Any]:
        """Every option as the running engines hold them: the ingest port's, and the query
        port's own (``max_results``)."""
        merged: dict[str, Any] = {}
        for name in ("query", "ingest"):  # the ingest port's host and port win
            if name in self._servers:
                merged.update(self._servers[name].option_values())
        return merged

    def start(self) -> "LogServer":
        """Listens on every port and serves on native threads.

        Raises:
            OSError: a port could not be bound (the others are closed again).
        """
        try:
            for server in self._servers.values():
                server.start()
            if self._forward is not None and self._forwarder is None:
                self._forwarder = _core.LogForwarder(**self._forward)
        except BaseException:
            self.stop()
            raise
        return self

    listen = start

    def stop(self) -> None:
        """Closes every port; logs already accepted are committed first. Forwarding stops
        where it is: its position is saved, and the next start resumes from it."""
        for server in self._servers.values():
            server.stop()
        self._ingest().protocol.flush()
        if self._forwarder is not None:
            self._forwarder.stop()
            self._forwarder = None

    def drain_forwarding(self, timeout: float = 10.0) -> bool:
        """Waits until every log stored so far has been delivered upstream (for syslog:
        acknowledged by its TCP and settled); False when ``timeout`` seconds pass first."""
        if self._forwarder is None:
            raise RuntimeError("this LogServer does not forward (or is not running)")
        return bool(self._forwarder.drain(timeout))

    def serve(self, poll_interval: float = 0.1) -> None:
        """Serves until Ctrl+C, SIGTERM or ``stop()``, then stops cleanly."""
        if not self.running:
            self.start()
        restore = Server._install_sigterm()  # as a Server's serve(): SIGTERM stops cleanly
        try:
            while self.running:
                time.sleep(poll_interval)
        except (KeyboardInterrupt, _Terminated):
            pass
        finally:
            if restore is not None:
                signal.signal(signal.SIGTERM, restore)
            self.stop()

    def events(self) -> list[str]:
        return [line for s in self._servers.values() for line in s.drain_events()]

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each port's counters (``ingest``, ``syslog``, ``query``): the server's, its logs'
        and the store's (``store_logs``, ``store_batches``, ``store_queued``, ...)."""
        out: dict[str, dict[str, Any]] = {}
        for name, server in self._servers.items():
            stats = dict(server.stats())
            stats.update(server.protocol.snapshot())
            out[name] = stats
        if self._forwarder is not None:
            out["forward"] = dict(self._forwarder.stats())
        return out

    def flush(self) -> None:
        """Returns once every log accepted so far is committed (in the journal, where
        queries see it)."""
        self._ingest().protocol.flush()

    def wait_indexed(self, timeout: float = 60.0) -> None:
        """Returns once every log committed so far is also in the block index (and the
        retention pass after it has run); the index follows the journal on a background
        thread. Raises TimeoutError after ``timeout`` seconds."""
        protocol = self._ingest().protocol
        target = protocol.committed_id()  # once: logs committed later do not move it
        deadline = time.monotonic() + timeout
        # Short native waits, so Ctrl+C is seen between them.
        while not protocol.wait_indexed(target,
                                        min(0.2, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the index is still {self.stats()['ingest']['store_unindexed']}"
                                   f" logs behind the journal after {timeout:g} s")

    def query(self, keyword: str = "", *, level: Optional[str] = None,
              max_level: Optional[str] = None, since: Optional[Time] = None,
              until: Optional[Time] = None, host: str = "", app: str = "", limit: int = 100,
              dataframe: bool = False) -> Any:
        """The newest ``limit`` stored logs that match every filter given, oldest first, as
        dicts (``id``, ``level``, ``time``, ``timestamp``, ``host``, ``app``, ``message``,
        ``truncated``, ``parse_error``), or a pandas DataFrame with ``dataframe=True``.
        Only committed logs are seen: ``flush()`` first to see everything accepted."""
        rows = self._ingest().protocol.query(keyword, level, max_level, since, until, host, app,
                                             limit)
        if dataframe:
            import pandas as pd  # type: ignore[import-untyped]
            return pd.DataFrame(rows)
        return rows

    def _ingest(self) -> Any:
        return next(iter(self._servers.values()))  # every port reaches the one store

    def __enter__(self) -> "LogServer":
        return self.start()

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"<LogServer {self._host} ingest={self.port} syslog={self.syslog_port} "
                f"query={self.query_port} "
                f"model={self._model} {state}>")
