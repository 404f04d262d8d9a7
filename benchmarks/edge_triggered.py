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
import re
import statistics
import subprocess
import sys

from cbuild import build, pinned, record, spread  # benchmarks/ is on sys.path
from echo_vs_c import cpu_seconds
from netlab.load import LoadGenerator

SERVER_CPU, CLIENT_CPU = 0, 1


def start(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(pinned(SERVER_CPU, cmd), stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    match = re.search(r"listening on [\d.]+:(\d+)", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError(f"{' '.join(cmd)} did not start")
    return proc, int(match.group(1))


def one_round(cmd: list[str], env: dict[str, str], connections: int,
              args: argparse.Namespace) -> float:
    proc, port = start(cmd, env)
    try:
        before = cpu_seconds(proc.pid)
        result = LoadGenerator("127.0.0.1", port, scenario="echo", connections=connections,
                               threads=1, rate=args.rate, duration=args.duration,
                               size=64).run()
        cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait(10)
    if result.errors:
        raise RuntimeError(f"{' '.join(cmd)}: {result.errors} errors")
    if result.responses_per_s < 0.95 * args.rate:  # CPU per request means little off the rate
        raise RuntimeError(f"{' '.join(cmd)}: {result.responses_per_s:,.0f} responses/s of "
                           f"{args.rate:,.0f} offered")
    return cpu / max(result.responses, 1) * 1e6


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
                table[label].append(one_round(cmd, env, connections, args))
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
