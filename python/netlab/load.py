"""The load generator: many connections from native threads, honest latency, exact counts.

    from netlab import LoadGenerator
    result = LoadGenerator("127.0.0.1", 9000, scenario="echo", connections=100,
                           duration=5).run()
    print(result.summary())

Closed loop (default): each connection sends its next request when the previous response
has arrived (``pipeline`` requests in flight, optional ``think_time``). Open loop
(``rate=R``): requests leave at a constant total rate R, wrk2-style, and latency is measured
from each request's intended send time, so a stalled server shows in the percentiles
(``latency_ms``); ``latency_uncorrected_ms`` measures from the actual send.
"""

from __future__ import annotations

import inspect
import json
import math
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from netlab import _core, _options
from netlab._types import LoadProgress, LoadResultFields, TimelineSecond
from netlab.codecs import Codec

LOAD_OPTIONS: list[dict[str, Any]] = list(_core.load_options())
"""Every load generator option as the C++ engine defines it (see ``SERVER_OPTIONS``); the
keyword arguments of LoadGenerator and the flags of ``python -m netlab bench``."""

SCENARIOS: tuple[str, ...] = tuple(
    next(o for o in LOAD_OPTIONS if o["name"] == "scenario")["choices"])
ERROR_KINDS = ("refused", "reset", "timeout", "closed", "mismatch", "protocol", "no_fds",
               "no_ports", "other")


@dataclass
class LoadResult(LoadResultFields):
    """What one run measured (the fields, generated from the engine's table, are in
    :class:`netlab._types.LoadResultFields`), with the run's settings. Latencies are
    milliseconds (floats, sub-ms kept)."""

    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration if self.duration > 0 else 0.0

    @property
    def responses_per_s(self) -> float:
        return self.responses / self.duration if self.duration > 0 else 0.0

    @property
    def success_rate(self) -> float:
        """Correct responses over requests that were answered, failed or left unanswered."""
        ended = self.responses + self.errors + self.unanswered
        return self.responses / ended if ended else 0.0

    @property
    def failed_percent(self) -> float:
        """Failed and unanswered requests, in percent; 100 when nothing was answered."""
        ended = self.responses + self.errors + self.unanswered
        return 100.0 if ended == 0 else 100.0 * (self.errors + self.unanswered) / ended

    @property
    def syscalls_per_request(self) -> Optional[dict[str, float]]:
        """Client syscalls per response; None when there was no response to divide by."""
        if self.responses == 0:
            return None
        return {name: count / self.responses for name, count in self.syscalls.items()}

    @property
    def cpu_seconds_per_10k(self) -> Optional[float]:
        """Client CPU seconds per 10,000 responses; None when there was no response."""
        if self.responses == 0:
            return None
        return self.cpu_seconds / self.responses * 10_000

    def speed_line(self) -> str:
        """The classic benchmark line."""
        return (f"Speed: {self.requests_per_s:.0f} request/sec, "
                f"{self.responses_per_s:.0f} response/sec")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(requests_per_s=self.requests_per_s, responses_per_s=self.responses_per_s,
                 success_rate=self.success_rate,
                 bytes_in_per_s=self.bytes_in / self.duration if self.duration else 0.0,
                 bytes_out_per_s=self.bytes_out / self.duration if self.duration else 0.0,
                 syscalls_per_request=self.syscalls_per_request)
        return d

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        """A human-readable table of the run."""
        lat, raw = self.latency_ms, self.latency_uncorrected_ms
        mode = f"open loop at {self.target_rate:g} req/s" if self.open_loop else "closed loop"
        lines = [
            self.speed_line(),
            f"  {mode}, {self.duration:.2f} s, {self.connections_opened} connections opened",
            f"  responses {self.responses}  errors {self.errors}  "
            f"unanswered {self.unanswered}  success {_floor_percent(self.success_rate)}",
            f"  throughput in {self.bytes_in / max(self.duration, 1e-9) / 1e6:.2f} MB/s, "
            f"out {self.bytes_out / max(self.duration, 1e-9) / 1e6:.2f} MB/s",
            "  latency (ms)      p50      p90      p99    p99.9      max     mean",
            _latency_row("corrected" if self.open_loop else "", lat),
        ]
        if self.open_loop:
            lines.append(_latency_row("uncorrected", raw))
        per = self.syscalls_per_request
        lines.append("  syscalls/response " + (
            "n/a (no responses)" if per is None
            else "  ".join(f"{k} {v:.2f}" for k, v in per.items())))
        per_10k = self.cpu_seconds_per_10k
        lines.append(f"  client CPU {self.cpu_seconds:.2f} s (" + (
            "n/a per 10k responses)" if per_10k is None else f"{per_10k:.3f} s per 10k responses)"))
        if self.status_codes:
            codes = "  ".join(f"{code}: {n:,}" for code, n in sorted(self.status_codes.items()))
            lines.append(f"  status {codes}  (non-2xx {self.non_2xx:,})")
        for kind, count in self.errors_by_kind.items():
            if count:
                lines.append(f"  error {kind}: {count} ({self.error_messages.get(kind, '')})")
        lines.extend(self.warnings())
        return "\n".join(lines)

    def warnings(self) -> list[str]:
        """What the counts alone would hide: starved connections and unanswered requests."""
        out = []
        if self.never_answered:
            out.append(f"  NEVER ANSWERED: {self.never_answered} of {self.connections} connections "
                       "sent requests and received nothing in the whole run (is the server "
                       "serving only some clients, or one at a time?)")
        if self.unanswered:
            out.append(f"  UNANSWERED: {self.unanswered} requests were still waiting when the run "
                       f"ended; the oldest for {self.unanswered_oldest_ms / 1000:.2f} s")
        scenario = self.settings.get("scenario")
        if scenario == "chat" and self.requests and not self.responses:
            out.append("  no deliveries: the server relayed none of the stamped lines to the "
                       "other connections (is it a broadcast chat server? with rooms > 1 it "
                       "must understand /join)")
        return out


def _floor_percent(fraction: float) -> str:
    """Rounded down, so a run that lost one request in a million never prints 100.00%."""
    return f"{math.floor(fraction * 10_000) / 100:.2f}%"


def _latency_row(label: str, lat: dict[str, float]) -> str:
    cells = "".join(f"{lat[k]:9.3f}" for k in ("p50", "p90", "p99", "p99.9", "max", "mean"))
    return f"  {label:<14}{cells}"


def parse_url(url: str) -> tuple[str, int, str]:
    """``http://host[:port]/path?query`` as (host, port, target), for the http scenario.

    Raises:
        ValueError: not an http:// URL (https is not spoken), or no host.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"{url!r}: only http:// URLs can be loaded (no TLS)")
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 80, target


def _http_options(options: dict[str, Any]) -> None:
    """The http options in their Python shapes: a list of paths, headers as a dict or pairs."""
    paths = options.get("path")
    if isinstance(paths, (list, tuple)):
        options["path"] = " ".join(paths)
    headers = options.get("headers")
    if isinstance(headers, dict):
        headers = list(headers.items())
    if isinstance(headers, (list, tuple)):
        options["headers"] = "\n".join(f"{name}: {value}" for name, value in headers)


class LoadGenerator:
    """Loads a TCP server from native threads, each running its own epoll loop.

    Scenarios: ``echo`` (send ``size`` bytes, expect them back, byte for byte), ``line``
    (send ``request`` + newline, expect one line, equal to ``expect`` if given), ``framed``
    (``codec`` frames both ways; the payload echoed or ``expect``), ``connect`` (a new
    connection per request: connect, send, receive, close), ``chat`` (connections spread over
    ``rooms`` rooms of a ChatServer send stamped lines at ``rate`` messages/s in total;
    ``responses`` counts deliveries to the other members and latency is fan-out delivery
    latency), ``http`` (``method`` on ``path`` with ``headers`` and ``body``; a list of
    paths is requested in turn; each response is checked by its framing, Content-Length or
    chunked, and counted by status in ``status_codes``, the non-2xx ones also in
    ``non_2xx``; ``keep_alive=False`` opens a connection per request).

    Args:
        host, port: the server.
        codec: the codec for ``framed`` (any :mod:`netlab.codecs` codec).
        **options: any option below, by name; a str ``request`` or ``expect`` is sent as
            UTF-8.

    Raises:
        ValueError: an option is out of range, or options do not fit together (the message
            says which).
        TypeError: there is no option of that name.
    """

    _SETTINGS = ("host", "port", "scenario", "connections", "threads", "duration", "requests",
                 "rate", "pipeline", "size", "rooms")

    def __init__(self, host: str, port: int, *, codec: Optional[Codec] = None,
                 **options: Any) -> None:
        _http_options(options)
        self._native = _core.LoadGenerator(codec, host=host, port=port, **options)
        held = self._native.option_values()
        self.settings: dict[str, Any] = {name: held[name] for name in self._SETTINGS}
        self._started = False

    def options(self) -> dict[str, Any]:
        """Every option as the engine holds it for this run."""
        return dict(self._native.option_values())

    def open_idle(self) -> None:
        """Opens the ``idle_connections`` now, before the run (``start()`` and ``run()`` do it
        otherwise): a caller that measures the server can then leave their set-up out."""
        self._native.open_idle()

    def start(self) -> "LoadGenerator":
        """Starts the worker threads and returns at once."""
        self._native.start()
        self._started = True
        return self

    def poll(self) -> LoadProgress:
        """Live counters, and the seconds completed since the previous poll (``new_seconds``)."""
        progress: LoadProgress = self._native.progress()
        return progress

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks (GIL released, in short steps so Ctrl+C works) until done or timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
            if self._native.wait(step):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def stop(self) -> None:
        """Ends the run early; results cover what was done. Idempotent."""
        self._native.stop()

    @property
    def finished(self) -> bool:
        return bool(self._native.finished)

    def result(self) -> LoadResult:
        """The merged result (waits for the workers to finish)."""
        self.wait()
        return LoadResult(settings=dict(self.settings), **self._native.result())

    def run(self, progress: Optional[Callable[[TimelineSecond], None]] = None) -> LoadResult:
        """Runs to the end and returns the result. ``progress`` is called about once a second
        from this thread with each completed second (requests, responses, errors, p99_ms).

        With one thread (``threads=1``) the run happens on this thread, keeping the process
        single-threaded: each system call on a socket is cheaper then."""
        self._native.start(on_this_thread=True)
        self._started = True
        try:
            while not self.wait(1.0 if progress else None):
                if progress:
                    for second in self.poll()["new_seconds"]:
                        progress(second)
            if progress:
                for second in self.poll()["new_seconds"]:
                    progress(second)
        except BaseException:
            self.stop()
            raise
        return self.result()

    def __enter__(self) -> "LoadGenerator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.wait()


_options.describe(LoadGenerator.__init__, LoadGenerator,
                  [_options.positional("self"), _options.positional("host", annotation=str),
                   _options.positional("port", annotation=int),
                   inspect.Parameter("codec", inspect.Parameter.KEYWORD_ONLY, default=None,
                                     annotation=Optional[Codec])],
                  LOAD_OPTIONS, skip=("host", "port"))


def load_options_markdown() -> str:
    """The README's table of load generator options (``python -m netlab options`` prints it
    after the servers')."""
    rows = _options.markdown_table([o for o in LOAD_OPTIONS if o["name"] not in ("host", "port")])
    return "\n".join(rows) + "\n"
