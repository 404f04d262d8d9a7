"""What edge-triggered epoll saves an echo server: the C echo server level-triggered and
edge-triggered, and netlab builds, in the same interleaved rounds.

Level-triggered, epoll puts every socket it reports back on its ready list, and the next
epoll_wait polls each of them again to find most of them drained. Registered with EPOLLET
(nginx does), a socket is reported once per arrival; the server then has to know when it has
read everything (a read shorter than asked) and read again by itself when it stopped early.
netlab's Stream does that over sockets on epoll (cpp/netlab/io/stream.h); benchmarks/c/
echo_server.c does it with `et`.

Each program serves on CPU 0; netlab's load generator offers the same open-loop rate from this
process on CPU 1 (64-byte echo). Server CPU: utime + stime from /proc/PID/stat, per request.
A netlab build is a directory put first on PYTHONPATH for its server (`python -m netlab serve
echo --model epoll`), for example the commit before edges next to this one:

    git worktree add build/base-src HEAD~1
    pip install --no-build-isolation --target build/base-py build/base-src
    PYTHONPATH=python python benchmarks/edge_triggered.py --build "level=build/base-py" \\
        --build "edges=python" --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys

from cbuild import build, record, spread  # benchmarks/ is on sys.path
from echo_vs_c import server_cpu_at_rate

SERVER_CPU, CLIENT_CPU = 0, 1


def programs(args: argparse.Namespace) -> dict[str, tuple[list[str], dict[str, str]]]:
    server = str(build("echo_server"))
    plain = dict(os.environ)
    found: dict[str, tuple[list[str], dict[str, str]]] = {
        "C, level-triggered": ([server, "0"], plain),
        "C, edge-triggered": ([server, "0", "-1", "et"], plain),
    }
    for spec in args.build:
        label, _, path = spec.partition("=")
        env = dict(os.environ, PYTHONPATH=path)
        found[f"netlab {label}"] = ([sys.executable, "-m", "netlab", "serve", "echo", "--port",
                                     "0", "--model", "epoll"], env)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="append", default=[], metavar="LABEL=PYTHONPATH",
                        help="a netlab build to serve from (repeatable)")
    parser.add_argument("--connections", default="100,1000", help="comma-separated")
    parser.add_argument("--rate", type=float, default=40_000)
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", default=None, help="directory for edge_triggered.{md,json}")
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    progs = programs(args)
    runs: dict[str, dict[str, list[float]]] = {}
    for connections in [int(c) for c in args.connections.split(",")]:
        table = runs.setdefault(str(connections), {label: [] for label in progs})
        for r in range(args.rounds):
            for label, (cmd, env) in progs.items():
                table[label].append(server_cpu_at_rate(cmd, env, connections, args.rate,
                                                      args.duration))
                print(f"{connections} connections round {r + 1} {label}: "
                      f"{table[label][-1]:.2f} us/request", flush=True)
    lines = ["# Edge-triggered epoll against level-triggered, on echo servers", "",
             f"Date: {datetime.datetime.now():%Y-%m-%d %H:%M}; {os.cpu_count()} CPUs "
             f"({platform.machine()}), Linux {platform.release()}; servers on CPU {SERVER_CPU}, "
             f"netlab's load generator on CPU {CLIENT_CPU}, offering {args.rate:,.0f} req/s "
             f"open loop (64-byte echo); {args.rounds} rounds of {args.duration:g} s, programs "
             "interleaved within each round. Server CPU us per request, median (min-max); the "
             "ratio is to the level-triggered C server's median.", ""]
    for count, table in runs.items():
        base = statistics.median(table["C, level-triggered"])
        lines += [f"## {int(count):,} connections", "",
                  "| server | CPU us/request | ratio |", "| --- | --- | --- |"]
        lines += [f"| {label} | {spread(values)} | {statistics.median(values) / base:.3f}x |"
                  for label, values in table.items()]
        lines.append("")
    report = "\n".join(lines)
    print("\n" + report)
    record(args.out, "edge_triggered", report, {"args": vars(args), "runs": runs})


if __name__ == "__main__":
    main()
