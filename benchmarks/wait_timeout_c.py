"""What a timeout on every wait costs a server: the C echo server with none against the same
server passing a timeout to every epoll_wait, as an event loop with timers does.

The kernel arms a timer before each sleep of a wait with a timeout and cancels it on wake-up;
on these (virtual) machines that costs enough to see in CPU per request. netlab's server loops
hold distant deadlines in a timerfd instead (cpp/netlab/io/far_timer.h), so their waits have
no timeout; this measures the reason on the simplest server there is.

Both servers are benchmarks/c/echo_server.c (`echo_server PORT [TIMEOUT_MS]`), on CPU 0;
netlab's load generator offers each rate open loop from this process on CPU 1 (64-byte echo,
100 connections); server CPU is utime + stime from /proc/PID/stat. Rounds alternate.

    PYTHONPATH=python python benchmarks/wait_timeout_c.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics

from cbuild import build, record, spread  # benchmarks/ is on sys.path
from echo_vs_c import server_cpu_at_rate

SERVER_CPU, CLIENT_CPU = 0, 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="20000,40000", help="comma-separated req/s")
    parser.add_argument("--timeout-ms", type=int, default=60000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", default=None, help="directory for wait_timeout_c.{md,json}")
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    timeouts = {"none (-1)": -1, f"{args.timeout_ms} ms": args.timeout_ms}
    runs: dict[str, dict[str, list[float]]] = {}
    for rate in [float(r) for r in args.rates.split(",")]:
        table = runs.setdefault(f"{rate:,.0f}", {label: [] for label in timeouts})
        for r in range(args.rounds):
            for label, timeout in timeouts.items():
                table[label].append(server_cpu_at_rate(
                    [str(build("echo_server")), "0", str(timeout)], dict(os.environ),
                    args.connections, rate, args.duration))
                print(f"{rate:,.0f} req/s round {r + 1} timeout {label}: "
                      f"{table[label][-1]:.2f} us/request", flush=True)
    lines = ["# A timeout on every wait, measured on the C echo server", "",
             f"{args.connections} connections, 64-byte echo, open loop, {args.duration:g} s per "
             f"round, {args.rounds} rounds alternated; server CPU us per request, median "
             "(min-max).", "",
             f"Date: {datetime.datetime.now():%Y-%m-%d %H:%M}; {os.cpu_count()} CPUs "
             f"({platform.machine()}), Linux {platform.release()}; server on CPU {SERVER_CPU}, "
             f"load generator on CPU {CLIENT_CPU}.", "",
             "| offered req/s | " + " | ".join(f"timeout {t}" for t in timeouts) + " | ratio |",
             "| --- | --- | --- | --- |"]
    for offered, table in runs.items():
        medians = [statistics.median(v) for v in table.values()]
        lines.append(f"| {offered} | " + " | ".join(spread(v) for v in table.values())
                     + f" | {medians[1] / medians[0]:.3f}x |")
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    record(args.out, "wait_timeout_c", report, {"args": vars(args), "runs": runs})


if __name__ == "__main__":
    main()
