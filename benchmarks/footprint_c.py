"""Does a client's per-connection footprint cost CPU? The C echo client as it is, and with
more memory per connection written on every event, beside netlab's load generator.

At 1,000 connections netlab's load generator has used up to 1.2x the C client's CPU per
response (benchmarks/results/echo_vs_c.md), with the same system calls per response and 92%
of its time in the kernel. One suspect was its footprint: a LoadClient and its Stream are
about 750 bytes in several heap blocks per connection, the C client's whole state one
300-byte struct. Here the C client is given PAD_LINES more 64-byte cache lines per
connection, in a block of its own, each written on every event (benchmarks/c/echo_client.c),
so the only difference between its runs is the memory touched between the same system calls.

All clients drive benchmarks/c/echo_server.c (CPU 0) from CPU 1, closed loop, 64-byte
messages; rounds alternate. Client CPU is getrusage of the client process (netlab's: around
run(), as echo_vs_c.py measures it).

    PYTHONPATH=python python benchmarks/footprint_c.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from typing import Any, Callable

from cbuild import build, pinned, record, spread  # benchmarks/ is on sys.path
from echo_vs_c import LOADGEN_CHILD

SERVER_CPU, CLIENT_CPU = 0, 1


def run_client(cmd: list[str], timeout: float) -> dict[str, Any]:
    out = subprocess.run(pinned(CLIENT_CPU, cmd), capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {out.stderr.strip()} {out.stdout.strip()}")
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if data["errors"]:
        raise RuntimeError(f"{cmd[0]}: {data['errors']} errors")
    return data


def contenders(port: int, args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    common = [str(port), str(args.connections), str(args.duration)]
    timeout = args.duration + 60
    commands = {f"C client, +{pad * 64} B/connection":
                [str(build("echo_client")), *common, "64", str(pad)]
                for pad in [int(p) for p in args.pads.split(",")]}
    commands["netlab LoadGenerator"] = [sys.executable, "-c", LOADGEN_CHILD, *common, "64"]
    return {name: functools.partial(run_client, cmd, timeout) for name, cmd in commands.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pads", default="0,16,64",
                        help="comma-separated extra cache lines per connection (first: baseline)")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=None, help="directory for footprint_c.{md,json}")
    args = parser.parse_args()
    server = subprocess.Popen(pinned(SERVER_CPU, [str(build("echo_server")), "0"]),
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    match = re.search(r"listening on [\d.]+:(\d+)", server.stdout.readline())
    if not match:
        server.kill()
        raise RuntimeError("the C echo server did not start")
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        runs = contenders(int(match.group(1)), args)
        for r in range(args.rounds):
            for name, run in runs.items():
                data = run()
                data["cpu_us_per_response"] = data["cpu_seconds"] / max(data["responses"], 1) * 1e6
                results.setdefault(name, []).append(data)
                print(f"round {r + 1} {name}: {data['requests_per_s']:,.0f} resp/s, "
                      f"{data['cpu_us_per_response']:.2f} us CPU/response", flush=True)
    finally:
        server.terminate()
        server.wait(10)
    base_rows = [v["cpu_us_per_response"] for v in next(iter(results.values()))]
    base = statistics.median(base_rows)
    lines = ["# Per-connection footprint and client CPU", "",
             f"{args.connections} connections, closed loop, 64-byte echo against the C echo "
             f"server, {args.duration:g} s per run, {args.rounds} rounds alternated; median "
             "(min-max).", "",
             f"Date: {datetime.datetime.now():%Y-%m-%d %H:%M}; {os.cpu_count()} CPUs "
             f"({platform.machine()}), Linux {platform.release()}; server on CPU {SERVER_CPU}, "
             f"clients on CPU {CLIENT_CPU}.", "",
             "| client | responses/s | client CPU us/response | ratio to the first row | paired |",
             "| --- | --- | --- | --- | --- |"]
    for name, rows in results.items():
        cpu = [v["cpu_us_per_response"] for v in rows]
        paired = statistics.median(c / b for c, b in zip(cpu, base_rows))
        lines.append(f"| {name} | {spread([v['requests_per_s'] for v in rows], ',.0f')} | "
                     f"{spread(cpu)} | {statistics.median(cpu) / base:.3f}x | {paired:.3f}x |")
    lines += ["", "Ratio: of the medians. Paired: the median over rounds of each run's CPU per "
              "response over the first row's in the same round, steadier when the machine has "
              "fast and slow spells."]
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    record(args.out, "footprint_c", report, {"args": vars(args), "runs": results})


if __name__ == "__main__":
    main()
