"""Measuring servers the way the comparison notebook does, for experiments of your own.

One *point* starts a netlab server in its own process (``python -m netlab serve``), pins it
and this process to different CPUs where the machine has two or more, warms it up with a
short run, then runs the measured load from this process (one load-generator thread) and
reads both sides' costs:

- the server's CPU time (user + system, /proc/PID/stat) and its own counters (``stats()``,
  read with SIGUSR1): readiness waits, ready descriptors, reads, writes, accepts and the
  process's context switches;
- the server's threads and resident memory, sampled while the load runs;
- the load generator's own CPU (``LoadResult.cpu_seconds``), so a client that is the
  bottleneck shows.

Each point is one row (a dict); :func:`sweep` repeats points and :func:`spread` turns the
repeats into a median with its range, which plots draw as error bars. :func:`problems` says
why a row is not a fair comparison (refused or dropped connections, errors), so plots can
draw it hollow and sentences can leave it out.
"""

from __future__ import annotations

import json
import os
import platform
import re
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Sequence

import netlab
from netlab.load import LoadGenerator, LoadResult

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


class ServerProcess:
    """A netlab server (echo by default) in a child process, and its resource use from /proc.

    ``python -m netlab serve`` prints one ``stats: {...}`` line on SIGUSR1; :meth:`stats`
    asks for it, so the server's own counters are readable from here.
    """

    def __init__(self, model: str, extra: Sequence[str] = (), app: str = "echo") -> None:
        cmd = [sys.executable, "-m", "netlab", "serve", app, "--port", "0", "--model", model,
               *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        banner = self.proc.stdout.readline()
        match = re.search(r"listening on [\d.]+:(\d+)", banner)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"the {model} server did not start: {banner!r}")
        self.port = int(match.group(1))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def io_syscalls(self) -> tuple[int, int]:
        """Read-like and write-like system calls the process has made (/proc/PID/io)."""
        counts = {}
        with open(f"/proc/{self.proc.pid}/io") as f:
            for line in f:
                key, value = line.split(":")
                counts[key] = int(value)
        return counts["syscr"], counts["syscw"]

    def status(self, key: str) -> int:
        """A number from /proc/PID/status ("Threads", "VmRSS" in KiB, ...); 0 if absent."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def stats(self, timeout: float = 5.0) -> dict[str, Any]:
        """The server's ``stats()``, asked for with SIGUSR1."""
        assert self.proc.stdout is not None
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError(f"the server (pid {self.proc.pid}) did not print its stats")
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the server (pid {self.proc.pid}) exited")
            if line.startswith("stats: "):
                stats: dict[str, Any] = json.loads(line[len("stats: "):])
                return stats

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Machine:
    """What the numbers were measured on."""

    cores: int
    cpu_model: str
    kernel: str
    python: str
    netlab: str
    server_cpus: Optional[frozenset[int]]  # None: not pinned
    client_cpus: Optional[frozenset[int]]

    @property
    def pinned(self) -> bool:
        return self.server_cpus is not None

    def __str__(self) -> str:
        if self.pinned:
            assert self.server_cpus is not None and self.client_cpus is not None
            pinning = (f"server on CPU {_cpus(self.server_cpus)}, load generator on CPU "
                       f"{_cpus(self.client_cpus)}")
        else:
            pinning = "not pinned (one CPU: server and load generator share it)"
        return "\n".join([
            f"CPU:      {self.cores} x {self.cpu_model}",
            f"kernel:   Linux {self.kernel}",
            f"Python:   {self.python}",
            f"netlab:   {self.netlab}",
            f"pinning:  {pinning}",
        ])


def _cpus(cpus: Iterable[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def machine() -> Machine:
    """This machine, and how points pin: the server to the first CPU this process may use,
    the load generator to the second; no pinning with a single CPU."""
    usable = sorted(os.sched_getaffinity(0))
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    pinned = len(usable) >= 2
    return Machine(
        cores=len(usable), cpu_model=model, kernel=platform.release(),
        python=platform.python_version(), netlab=netlab.__version__,
        server_cpus=frozenset(usable[:1]) if pinned else None,
        client_cpus=frozenset(usable[1:2]) if pinned else None)


class _Pinned:
    """This process on `cpus` while the block runs (all threads made later inherit it)."""

    def __init__(self, cpus: Optional[frozenset[int]]) -> None:
        self.cpus = cpus
        self.saved: set[int] = set()

    def __enter__(self) -> None:
        if self.cpus is not None:
            self.saved = os.sched_getaffinity(0)
            os.sched_setaffinity(0, self.cpus)

    def __exit__(self, *exc: object) -> None:
        if self.cpus is not None:
            os.sched_setaffinity(0, self.saved)


class _Sampler:
    """Peak threads and resident memory of a process, every 50 ms while it runs."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.threads = 0
        self.rss_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(0.05):
                return

    def sample(self) -> None:
        self.threads = max(self.threads, self.server.status("Threads"))
        self.rss_kib = max(self.rss_kib, self.server.status("VmRSS"))

    def __enter__(self) -> "_Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def problems(result: LoadResult, connections: int, idle: int = 0) -> Optional[str]:
    """Why a run's figures are not a fair comparison, or None: errors, connections not
    opened or never answered, requests left unanswered, idle connections refused or dropped.
    """
    found = []
    if result.errors:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in result.errors_by_kind.items() if n)
        found.append(f"{result.errors:,} errors" + (f" ({kinds})" if kinds else ""))
    if result.connections_opened < connections:
        found.append(f"only {result.connections_opened:,} of {connections:,} connections")
    if result.never_answered:
        found.append(f"{result.never_answered:,} connections never answered")
    if result.unanswered:
        found.append(f"{result.unanswered:,} requests unanswered at the end")
    if idle and (result.idle_failed or result.idle_dropped):
        found.append(f"{result.idle_failed + result.idle_dropped:,} of {idle:,} idle "
                     "connections refused or dropped"
                     + (f" ({result.idle_error})" if result.idle_error else ""))
    if result.responses == 0:
        found.append("no responses")
    return "; ".join(found) or None


MODEL_ARGS = {"epoll x2": ("epoll", ["--workers", "2"])}


def measure(model: str, *, connections: int, size: int = 64, duration: float = 3.0,
            warmup: float = 0.5, rate: Optional[float] = None, idle: int = 0,
            pin: Optional[Machine] = None) -> dict[str, Any]:
    """One point: an echo server under `model` ("epoll", "poll", "select", "threaded", or
    "epoll x2" for two epoll loops), `connections` busy connections sending `size`-byte
    messages (closed loop, or `rate` requests/s in all), `idle` idle connections held through
    the run; a `warmup` run first, not counted. With `pin` (from :func:`machine`), a
    one-loop server and the load generator run on separate CPUs; a two-loop server is left
    free to use every CPU, as it must to use two.
    """
    base, extra = MODEL_ARGS.get(model, (model, []))
    server = ServerProcess(base, extra)
    try:
        two_loops = bool(extra)
        if pin is not None and pin.server_cpus is not None and not two_loops:
            os.sched_setaffinity(server.pid, pin.server_cpus)
        baseline_rss = server.status("VmRSS")
        with _Pinned(pin.client_cpus if pin is not None else None):
            if warmup > 0:
                LoadGenerator("127.0.0.1", server.port, connections=connections, threads=1,
                              duration=warmup, size=size, rate=rate).run()
            gen = LoadGenerator("127.0.0.1", server.port, connections=connections, threads=1,
                                duration=duration, size=size, rate=rate,
                                idle_connections=idle, connect_timeout=10, response_timeout=5)
            gen.open_idle()  # their accepts (and threads) are set-up, not the run's cost
            before, cpu_before = server.stats(), server.cpu_seconds()
            with _Sampler(server) as sampler:
                result = gen.run()
            cpu = server.cpu_seconds() - cpu_before
            after = server.stats()
        return _row(model, connections, size, idle, rate, result, cpu,
                    {k: after[k] - before[k] for k in _WORK}, sampler, baseline_rss)
    finally:
        server.close()


_WORK = ("waits", "ready_events", "reads", "writes", "accepts", "context_switches_voluntary",
         "context_switches_involuntary")


def _row(model: str, connections: int, size: int, idle: int, rate: Optional[float],
         result: LoadResult, cpu: float, work: dict[str, int], sampler: _Sampler,
         baseline_rss: int) -> dict[str, Any]:
    ok = max(result.responses, 1)
    why = problems(result, connections, idle)
    held = max(connections + idle, 1)
    return dict(
        model=model, connections=connections, size=size, idle=idle, rate=rate or 0.0,
        rps=result.responses_per_s, responses=result.responses,
        p50_ms=result.latency_ms["p50"], p99_ms=result.latency_ms["p99"],
        mean_ms=result.latency_ms["mean"], errors=result.errors,
        flagged=why is not None, problem=why or "",
        server_us_per_req=cpu / ok * 1e6,
        client_us_per_resp=result.cpu_seconds / ok * 1e6,
        client_cpu_share=result.cpu_seconds / max(result.duration, 1e-9),
        waits_per_req=work["waits"] / ok,
        events_per_wait=work["ready_events"] / max(work["waits"], 1),
        server_us_per_wait=cpu / max(work["waits"], 1) * 1e6,
        reads_per_req=work["reads"] / ok, writes_per_req=work["writes"] / ok,
        accepts=work["accepts"],
        switches_per_req=(work["context_switches_voluntary"]
                          + work["context_switches_involuntary"]) / ok,
        threads=sampler.threads, rss_mib=sampler.rss_kib / 1024,
        kib_per_conn=max(sampler.rss_kib - baseline_rss, 0) / held,
        idle_dropped=result.idle_dropped + result.idle_failed)


def sweep(points: Iterable[dict[str, Any]], repeats: int = 3,
          pin: Optional[Machine] = None) -> Iterator[dict[str, Any]]:
    """Each point `repeats` times, interleaved (every point once, then again), so a slow
    minute of the machine does not land on one model; yields rows with a `repeat` column."""
    points = list(points)
    for repeat in range(repeats):
        for point in points:
            row = measure(pin=pin, **point)
            row["repeat"] = repeat
            yield row


def spread(frame: Any, by: Sequence[str], value: str) -> Any:
    """Median of `value` over the repeats of each point, with its min and max, and whether
    any repeat was flagged (a pandas DataFrame in, one out: columns by..., median, low, high,
    flagged)."""
    grouped = frame.groupby(list(by), sort=True)
    out = grouped[value].agg(median="median", low="min", high="max")
    out["flagged"] = grouped["flagged"].any()
    return out.reset_index()


def medians(frame: Any, by: Sequence[str]) -> Any:
    """One row per point: the median of every numeric column over the repeats, `flagged` if
    any repeat was, and the first repeat's `problem` text."""
    grouped = frame.groupby(list(by), sort=True)
    out = grouped.median(numeric_only=True)
    out["flagged"] = grouped["flagged"].any()
    out["problem"] = grouped["problem"].agg(lambda texts: next((t for t in texts if t), ""))
    return out.drop(columns=["repeat"], errors="ignore").reset_index()


def plot_spread(ax: Any, frame: Any, x: str, value: str, models: Sequence[str],
                colors: dict[str, str]) -> None:
    """Each model's median of `value` against `x`, the repeats' range as error bars; points
    where any repeat was flagged are drawn hollow and labelled, so nobody reads them as a
    result."""
    for model in models:
        part = spread(frame[frame["model"] == model], [x], value)
        if part.empty:
            continue
        color = colors[model]
        ax.errorbar(part[x], part["median"],
                    yerr=[part["median"] - part["low"], part["high"] - part["median"]],
                    color=color, capsize=3, label=model)
        clean, bad = part[~part["flagged"]], part[part["flagged"]]
        ax.plot(clean[x], clean["median"], "o", color=color)
        ax.plot(bad[x], bad["median"], "o", markerfacecolor="white", markeredgecolor=color,
                markersize=8)
        for _, point in bad.iterrows():
            ax.annotate(f"{model}: refused/errors", (point[x], point["median"]),
                        textcoords="offset points", xytext=(5, 5), fontsize=7, color=color)
    ax.grid(True, which="both", alpha=0.3)
