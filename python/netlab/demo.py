"""``python -m netlab demo``: the same echo load against each I/O model, side by side.

Each server runs in its own process (``python -m netlab serve echo``), so its CPU time,
threads and memory are its own; the load generator runs here with the same settings for
every model.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from netlab._types import TimelineSecond
from netlab.lab import ServerProcess, problems
from netlab.load import LoadGenerator, LoadResult
from netlab.servers import DEFAULTS

# Differences under 10% come and go between runs on a shared or small machine (2 cores run
# the server and the load generator side by side), so they name no winner.
NOISE = 0.10
FD_SETSIZE = 1024  # select() cannot watch a descriptor at or above this (<sys/select.h>)
SELECT_CAP: int = DEFAULTS["select_max_connections"]  # select's default max_connections

LEGEND = """\
How to read the tables (one row per I/O model, same load for each):
  req/s          responses per second, closed loop: each connection sends its next message
                 as soon as the previous one has come back
  p50 / p99 ms   latency: half of the responses / 99 in 100 came back faster than this
  errors         requests that failed (refused, reset, timeout, closed, mismatch, ...)
  srv CPU s/10k  server CPU seconds (user + system) per 10,000 responses: the steadier
                 figure on a noisy machine, as it does not depend on how fast the load ran
  srv threads    the server process's threads (at their peak)
  srv RSS MiB    the server process's resident memory (at its peak)
"""


@dataclass
class ModelRun:
    """One I/O model's server under one load: the load's result and the server's costs."""

    model: str
    result: LoadResult
    server_cpu_seconds: float
    server_threads: int
    server_rss_mib: float

    @property
    def server_cpu_per_10k(self) -> float:
        return self.server_cpu_seconds / max(self.result.responses, 1) * 10_000


def run_model(model: str, connections: int, duration: float, size: int,
              threads: int) -> ModelRun:
    server = ServerProcess(model)
    try:
        peak_threads, peak_rss = 0, 0

        def sample(_second: Optional[TimelineSecond] = None) -> None:
            nonlocal peak_threads, peak_rss
            peak_threads = max(peak_threads, server.status("Threads"))
            peak_rss = max(peak_rss, server.status("VmRSS"))

        cpu_before = server.cpu_seconds()
        gen = LoadGenerator("127.0.0.1", server.port, scenario="echo", connections=connections,
                            threads=threads, duration=duration, size=size)
        result = gen.run(progress=sample)
        cpu = server.cpu_seconds() - cpu_before
        sample()
        return ModelRun(model, result, cpu, peak_threads, peak_rss / 1024)
    finally:
        server.close()


def table(runs: Sequence[ModelRun]) -> str:
    head = (f"{'model':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
            f"{'srv CPU s/10k':>15}{'srv threads':>13}{'srv RSS MiB':>13}")
    rows = [head, "-" * len(head)]
    for r in runs:
        lat = r.result.latency_ms
        rows.append(f"{r.model:<10}{r.result.responses_per_s:>10,.0f}{lat['p50']:>9.3f}"
                    f"{lat['p99']:>9.3f}{r.result.errors:>8}{r.server_cpu_per_10k:>15.3f}"
                    f"{r.server_threads:>13}{r.server_rss_mib:>13.1f}")
    return "\n".join(rows)


def flagged(run: ModelRun, connections: int) -> Optional[str]:
    """Why this run's figures are not a fair comparison (errors, connections not served or
    never answered, requests left unanswered), or None."""
    return problems(run.result, connections)


def _leaders(runs: Sequence[ModelRun], connections: int, value: Callable[[ModelRun], float],
             higher_is_better: bool) -> tuple[list[ModelRun], list[tuple[ModelRun, float]]]:
    """The best clean runs by ``value`` (the best first, then those within noise of it), and
    every other answering run with its ratio to the best (how many times better the best was).
    """
    answered = [r for r in runs if r.result.responses > 0 and value(r) > 0]
    clean = [r for r in answered if not flagged(r, connections)] or answered
    if not clean:
        return [], []
    best = (max if higher_is_better else min)(clean, key=value)
    leaders, behind = [best], []
    for r in answered:
        if r is best:
            continue
        ratio = value(best) / value(r) if higher_is_better else value(r) / value(best)
        if r in clean and _within_noise(ratio):
            leaders.append(r)
        else:
            behind.append((r, ratio))
    return leaders, sorted(behind, key=lambda pair: -pair[1])


def _within_noise(ratio: float) -> bool:
    return abs(ratio - 1) < NOISE


def _join(words: Sequence[str]) -> str:
    """a; a and b; a, b and c."""
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else words[0]


def _compare(runs: Sequence[ModelRun], connections: int, value: Callable[[ModelRun], float],
             higher_is_better: bool, what: str, lead: str, part: str, fmt: str) -> Optional[str]:
    """One sentence: who leads on ``value`` and by what ratio, or that it is within noise.

    ``lead`` is formatted with ``model`` and ``value`` (each value formatted by ``fmt``), ``part``
    with ``model`` and ``ratio``; models within noise of the best share the lead.
    """
    leaders, behind = _leaders(runs, connections, value, higher_is_better)
    if len(leaders) + len(behind) < 2:
        return None
    names = _join([r.model for r in leaders])
    if not behind:
        return (f"{names}: {what} within {NOISE:.0%} of each other, which is within this "
                "machine's noise: no winner.")
    values = _join([fmt.format(value(r)) for r in leaders])
    if len(leaders) > 1:
        values += ", within noise of each other"
    parts = [part.format(model=r.model, ratio=ratio)
             + (" (flagged)" if flagged(r, connections) else "") for r, ratio in behind]
    return lead.format(model=names, value=values) + ", ".join(parts) + "."


def _threads_and_memory(runs: Sequence[ModelRun], connections: int) -> Optional[str]:
    """What a thread per connection costs: threaded's threads and memory beside epoll's."""
    by_model = {r.model: r for r in runs}
    threaded, epoll = by_model.get("threaded"), by_model.get("epoll")
    # Threads are sampled once a second: a run under a second may miss threaded's peak.
    if threaded is None or epoll is None or threaded.server_threads <= epoll.server_threads:
        return None
    memory = threaded.server_rss_mib / max(epoll.server_rss_mib, 1e-9)
    memory_text = ("about epoll's memory" if _within_noise(memory)
                   else f"{memory:.1f}x epoll's memory")
    return (f"Cost of a thread per connection: threaded ran {_threads(threaded.server_threads)} "
            f"in {threaded.server_rss_mib:.1f} MiB ({memory_text}) for {connections:,} "
            f"connections; epoll ran {_threads(epoll.server_threads)} in "
            f"{epoll.server_rss_mib:.1f} MiB.")


def _threads(count: int) -> str:
    """"1 thread", "1,002 threads"."""
    return f"{count:,} thread" + ("" if count == 1 else "s")


def _select_vs_epoll(runs: Sequence[ModelRun], connections: int) -> Optional[str]:
    """Why select kept up with epoll here, or why it fell behind, or why it could not serve."""
    by_model = {r.model: r for r in runs}
    select, epoll = by_model.get("select"), by_model.get("epoll")
    if select is None or epoll is None or epoll.result.responses_per_s <= 0:
        return None
    if flagged(select, connections):
        # The server's own descriptors (stdio, listener, wake-up) take the first few numbers.
        if connections > SELECT_CAP:
            return (f"select cannot watch fds >= FD_SETSIZE ({FD_SETSIZE}), so its server "
                    f"takes at most {SELECT_CAP} connections and tells the rest \"server "
                    "full\" (the load generator counts each such reply as a mismatch, and "
                    "reconnects): its row is not comparable.")
        return None
    ratio = epoll.result.responses_per_s / max(select.result.responses_per_s, 1e-9)
    if ratio < 1 + NOISE:
        return (f"select kept within {NOISE:.0%} of epoll (or beat it): with every connection "
                "busy, each select() call returns many ready fds, so its O(n) scan of the fd "
                "set is spread over many requests. select's cost shows with many mostly idle "
                f"connections, and it cannot watch fds >= FD_SETSIZE ({FD_SETSIZE}) at all.")
    return (f"epoll served {ratio:.2f}x select's req/s: each select() call copies and scans "
            "the whole fd set, O(n) in the connections, where epoll_wait() returns only the "
            "ready ones.")


def conclusions(runs: Sequence[ModelRun], connections: int) -> list[str]:
    """What one table shows, as sentences computed from its own numbers."""
    notes = [f"{r.model} is flagged: {why}; its figures are not a fair comparison."
             for r in runs if (why := flagged(r, connections))]
    notes += [note for note in (
        _compare(runs, connections, lambda r: r.result.responses_per_s, True, "req/s",
                 "{model} served the most req/s ({value}): ", "{ratio:.2f}x {model}", "{:,.0f}"),
        _compare(runs, connections, lambda r: r.server_cpu_per_10k, False,
                 "server CPU per response", "{model} used the least server CPU per 10k "
                 "responses ({value}); ", "{model} used {ratio:.2f}x as much", "{:.3f} s"),
        _threads_and_memory(runs, connections),
        _select_vs_epoll(runs, connections)) if note]
    return notes


def summary(tables: Sequence[tuple[int, Sequence[ModelRun]]]) -> list[str]:
    """The overall picture across connection counts: each table's leader, each model's trend."""
    leaders = []
    for n, runs in tables:
        best, behind = _leaders(runs, n, lambda r: r.result.responses_per_s, True)
        if not best or not behind:
            leaders.append(f"no clear leader at {n:,}")
        else:
            ties = f" (with {_join([r.model for r in best[1:]])} within noise)" \
                if best[1:] else ""
            leaders.append(f"{best[0].model}{ties} at {n:,}")
    notes = ["Most req/s: " + ", ".join(leaders) + " connections."]
    first, last = tables[0], tables[-1]
    for run in first[1]:
        later = next((r for r in last[1] if r.model == run.model), None)
        if later is None:
            continue
        notes.append(f"{run.model}, {first[0]:,} -> {last[0]:,} connections: "
                     f"{run.result.responses_per_s:,.0f} -> {later.result.responses_per_s:,.0f}"
                     f" req/s, {run.server_threads:,} -> {_threads(later.server_threads)}, "
                     f"{run.server_rss_mib:.1f} -> {later.server_rss_mib:.1f} MiB.")
    flags = [f"{r.model} at {n:,}" for n, runs in tables for r in runs if flagged(r, n)]
    if flags:
        notes.append("Flagged (errors or missing connections): " + ", ".join(flags) + ".")
    return notes


def bullets(notes: Sequence[str], width: int = 88) -> str:
    """Notes as wrapped "- " bullets."""
    return "\n".join(textwrap.fill(note, width, initial_indent="- ", subsequent_indent="  ")
                     for note in notes)


def main(models: Sequence[str], connections: Sequence[int], duration: float, size: int,
         threads: int, out: Optional[str] = None) -> int:
    header = (f"netlab demo: echo, {size}-byte messages, closed loop, {duration:g} s per run, "
              f"load generator on {threads} thread(s); servers in their own processes.\n")
    print(header + "\n" + LEGEND, flush=True)
    report = [header, LEGEND]
    tables = []
    for n in connections:
        runs = []
        for model in models:
            print(f"  {model} with {n} connections ...", flush=True)
            runs.append(run_model(model, n, duration, size, threads))
        tables.append((n, runs))
        block = f"{n} connections\n{table(runs)}\n\n{bullets(conclusions(runs, n))}\n"
        print("\n" + block, flush=True)
        report.append(block)
    if len(tables) > 1:
        block = f"Overall\n{bullets(summary(tables))}\n"
        print(block, flush=True)
        report.append(block)
    if out:
        with open(out, "w") as f:
            f.write("\n".join(report))
    return 0

