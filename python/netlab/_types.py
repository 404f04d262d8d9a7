"""Types of the records the engine returns, generated from its column tables.

Do not edit: run ``python -m netlab._schema`` after changing a table in
cpp/netlab/bindings/ (a test fails while this file and the engine disagree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict


class FileTransfer(TypedDict):
    """One upload or download by FileClient: what moved and how long it took."""

    name: str
    """the file's name on the server."""
    size: int
    """its size in bytes."""
    sha256: str
    """its sha256, checked on both ends."""
    resumed_from: int
    """bytes already in place before this call (a resume)."""
    seconds: float
    """the call's duration, hashing included."""


class LoadProgress(TypedDict):
    """A running load generator's live counters."""

    elapsed: float
    """seconds since the run began."""
    requests: int
    """requests sent so far."""
    responses: int
    """correct responses so far."""
    errors: int
    """failures so far."""
    bytes_in: int
    """bytes received so far."""
    bytes_out: int
    """bytes sent so far."""
    connections_opened: int
    """connections established so far."""
    finished: bool
    """the run has ended."""
    new_seconds: list[TimelineSecond]
    """seconds completed since the previous poll."""


@dataclass
class LoadResultFields:
    """What one run measured."""

    duration: float = 0.0
    """seconds the run lasted."""
    open_loop: bool = False
    """requests left at a fixed rate (wrk2-style)."""
    target_rate: float = 0.0
    """the open-loop rate asked for, requests/s."""
    requests: int = 0
    """requests sent."""
    responses: int = 0
    """correct responses."""
    errors: int = 0
    """failed requests and failed connection attempts."""
    unanswered: int = 0
    """requests still unanswered after the end-of-run drain (min(response_timeout, 1 s))."""
    unanswered_oldest_ms: float = 0.0
    """how long the oldest unanswered request had waited when the run ended."""
    never_answered: int = 0
    """connections that sent at least one request and received nothing in the whole run."""
    connections: int = 0
    """connections configured."""
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    """failures by kind (refused, reset, timeout, ...)."""
    error_messages: dict[str, str] = field(default_factory=dict)
    """the first message of each kind of failure."""
    bytes_in: int = 0
    """bytes received."""
    bytes_out: int = 0
    """bytes sent."""
    status_codes: dict[int, int] = field(default_factory=dict)
    """http: responses by status code (every correctly framed response, whatever its status)."""
    non_2xx: int = 0
    """http: responses whose status is not 2xx (counted in responses, not in errors)."""
    connections_opened: int = 0
    """connections established."""
    idle_opened: int = 0
    """idle connections opened before the run (idle_connections)."""
    idle_failed: int = 0
    """idle connections that could not be opened."""
    idle_dropped: int = 0
    """idle connections the server closed or reset before the run ended."""
    idle_error: str = ""
    """why the first idle connection could not be opened (empty: none)."""
    latency_ms: dict[str, float] = field(default_factory=dict)
    """latency from each request's intended send time (count, min, mean, p50, p90, p99, p99.9, max)."""
    latency_uncorrected_ms: dict[str, float] = field(default_factory=dict)
    """latency from each request's actual send time (the same keys)."""
    percentiles_ms: list[tuple[float, float]] = field(default_factory=list)
    """(percentile, latency ms) from 0 to 100, finer towards the tail (HdrHistogram's percentile distribution; corrected, as latency_ms)."""
    percentiles_uncorrected_ms: list[tuple[float, float]] = field(default_factory=list)
    """the same, from each request's actual send time."""
    timeline: list[TimelineSecond] = field(default_factory=list)
    """the run second by second."""
    syscalls: dict[str, int] = field(default_factory=dict)
    """the client's read, write, epoll_wait and connect calls."""
    cpu_seconds: float = 0.0
    """CPU time of the generator's threads."""


class LogSenderStats(TypedDict):
    """What a LogClient or a LogServer forwarder has shipped, and to where."""

    sent: int
    """logs written to an upstream (resends included)."""
    confirmed: int
    """logs an upstream answered (or, syslog, settled)."""
    resent: int
    """logs sent again after a connection broke: possible duplicates."""
    rejected: int
    """logs an upstream answered with an ERROR (not sent again)."""
    connects: int
    """connections made."""
    connect_failures: int
    """connection attempts refused or timed out."""
    disconnects: int
    """connections that broke or went silent."""
    failovers: int
    """connections made to another upstream than the last one."""
    position: int
    """every log up to this key (sequence number or id) is delivered."""
    active: int
    """the upstream connected now (its index), or -1."""
    last_error: str
    """what went wrong last."""


class ServerStats(TypedDict):
    """Exact counters of a server since it was created (they survive stop())."""

    model: str
    """the I/O model."""
    protocol: str
    """the app's protocol."""
    workers: int
    """event loops (epoll with workers > 1)."""
    threads: int
    """native threads serving now."""
    connections_active: int
    """connections open now."""
    connections_total: int
    """connections accepted since creation."""
    connections_rejected: int
    """connections refused at admission (server full, per-address limit, no fds)."""
    bytes_in: int
    """bytes read from clients."""
    bytes_out: int
    """bytes written to clients."""
    messages_in: int
    """messages (lines, frames, chunks) handled."""
    messages_out: int
    """messages sent."""
    errors: int
    """connections ended by an error."""
    dropped_slow: int
    """connections closed for not reading their output."""
    timeouts: int
    """idle and message timeouts."""
    waits: int
    """readiness waits (epoll_wait, select, poll calls) of the serving loops and acceptors."""
    ready_events: int
    """descriptors those waits reported ready."""
    reads: int
    """read calls on client connections."""
    writes: int
    """write calls (write, writev, sendfile) on client connections."""
    accepts: int
    """accept calls on the listening socket, counting those that found nothing pending."""
    context_switches_voluntary: int
    """times the server's process gave up the CPU to wait (getrusage, every thread it has run, so in a process shared with other work that work counts too)."""
    context_switches_involuntary: int
    """times the server's process was preempted (getrusage, as above)."""
    closes: dict[str, int]
    """connections closed, by CloseKind value (refusals at admission count as server_full)."""


class TimelineSecond(TypedDict):
    """One second of a load run."""

    second: int
    """seconds since the run began (0 is the first)."""
    requests: int
    """requests sent in this second."""
    responses: int
    """correct responses received."""
    errors: int
    """failed requests and connection attempts."""
    bytes_in: int
    """bytes received."""
    bytes_out: int
    """bytes sent."""
    p50_ms: float
    """median latency of the second's responses."""
    p90_ms: float
    """90th percentile latency."""
    p99_ms: float
    """99th percentile latency."""
    max_ms: float
    """slowest response."""
    inflight: int
    """requests outstanding at the end of the second."""
    never_answered: int
    """connections that have sent but received nothing yet."""
    unanswered: int
    """last second only: requests unanswered when the run ended."""


class ChatStats(ServerStats):
    """A ChatServer's counters: the server's and its rooms'."""

    rooms: dict[str, int]
    """members per room."""
    members: int
    """clients in a room now."""
    messages_relayed: int
    """messages delivered to other members."""


class FileStats(ServerStats):
    """A FileServer's counters: the server's, its transfers and its refusals."""

    files_stored: int
    """uploads completed: checked, fsynced and renamed into place."""
    files_served: int
    """downloads started (line protocol and HTTP GET)."""
    sendfile_bytes: int
    """bytes of files queued for sendfile(2)."""
    resumes: int
    """uploads resumed from a partial (RESUME)."""
    files_hashed: int
    """files hashed on a disk thread (placed in the root by other means)."""
    used_bytes: int
    """bytes under the root as the quota counts them, partials included."""
    refusals: dict[str, int]
    """requests refused, by reason (bad_name, not_found, forbidden, busy, too_large, quota, too_many_uploads, checksum, bad_range, stalled, io_error, bad_command)."""
    protocols: dict[str, int]
    """connections by the protocol they spoke: http, line."""


class HttpProxyStats(ServerStats):
    """An HttpProxy's counters: the server's, its responses and its upstreams'."""

    responses: dict[str, int]
    """responses sent to clients by status class (the upstreams' and the proxy's own 4xx and 5xx)."""
    statuses: dict[str, int]
    """responses sent to clients by status code ("200", "502", ...), codes seen at least once."""
    upstream_connects: int
    """connections opened to upstreams."""
    upstream_reuses: int
    """requests sent on an upstream connection kept alive."""
    upstream_failures: int
    """requests answered 502 or 504 because their upstream failed or timed out."""
    retries: int
    """requests sent again: to the next upstream after a failed connect, or once more after a connection died before any answer."""
    upstream_requests: dict[str, int]
    """requests sent to each upstream ("host:port"), retries included."""
    pool_idle: int
    """idle upstream connections in the keep-alive pools now."""
    upstreams_down: int
    """upstreams skipped now after failing (max_fails, fail_timeout)."""
    denied: int
    """requests answered 403 by a deny rule or, for CONNECT, the allowlist."""
    rate_limited: int
    """requests answered 429 past rate_limit."""
    tunnels: int
    """CONNECT tunnels opened (each answered 200 Connection Established)."""
    cache_hits: int
    """responses served from the cache (X-Cache: HIT), 304s included."""
    cache_misses: int
    """cacheable requests the upstream answered (X-Cache: MISS)."""
    cache_revalidations: int
    """stale entries the upstream confirmed with 304 (X-Cache: REVALIDATED)."""
    cache_bypasses: int
    """GET and HEAD requests the cache was not asked for (no-store, Authorization)."""
    cache_evictions: int
    """entries evicted to stay within cache_size."""
    cache_bytes: int
    """bytes the cache holds now (bodies, fields and bookkeeping)."""
    cache_entries: int
    """responses the cache holds now."""
    gzipped: int
    """responses compressed with gzip on their way to the client (gzip)."""
    health_checks: int
    """active health checks made (health_check)."""
    health_check_failures: int
    """active health checks failed: refused, timed out, closed, or not 2xx/3xx."""
    access_log_bytes: int
    """bytes written to access_log."""
    access_log_dropped: int
    """access log lines dropped because the disk fell 8 MiB behind."""
    access_log_errors: int
    """writes to access_log that failed (a full disk, say): their lines are lost."""


class HttpStats(ServerStats):
    """An HttpServer's counters: the server's, and its requests and responses."""

    requests: dict[str, int]
    """requests by method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, other), counted as their heads arrive."""
    responses: dict[str, int]
    """responses by status class: 1xx (100 Continue), 2xx, 3xx, 4xx (refusals, parse errors), 5xx."""


class LogStats(ServerStats):
    """A log port's counters: the server's, its logs and its store's."""

    logs_received: int
    """logs parsed on this port (ingest)."""
    logs_acknowledged: int
    """logs answered OK (ack=received: once parsed; ack=durable: once committed)."""
    parse_errors: int
    """lines refused with ERROR (unknown command, bad level or time)."""
    truncated: int
    """messages longer than max_message, stored truncated and flagged."""
    queries: int
    """queries run (query port)."""
    bad_tokens: int
    """connections refused for a missing or wrong AUTH token."""
    rate_limited: int
    """times a client was paused for passing message_rate."""
    rows_returned: int
    """rows the queries returned."""
    store_logs: int
    """logs the store has committed since it was opened (all its ports)."""
    store_batches: int
    """commits (each a batch of logs: group commit)."""
    store_duplicates: int
    """logs resent with an idempotency key already stored."""
    store_failed_batches: int
    """batches that could not be committed."""
    store_deleted: int
    """logs deleted by retention (age, then size)."""
    store_queued: int
    """logs waiting for the writer now."""
    store_unindexed: int
    """logs committed to the journal and not yet in the block index (queries read both)."""
    store_index_errors: int
    """index blocks SQLite refused (retried), journal reads that failed (retried), damaged journal batches skipped."""
