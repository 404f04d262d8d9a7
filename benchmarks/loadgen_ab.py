"""Load generator requests/s and client CPU per response, for two netlab builds side by side.

The server is the C reference (benchmarks/c/echo_server.c, built with `cc -O2` into
build/bench/ when missing or older than its source) pinned to CPU 0, so only the client
changes between A and B. Each run is netlab.LoadGenerator (scenario echo, closed loop, 64 B,
one thread) in a fresh subprocess pinned to CPU 1, with PYTHONPATH set to the build's
directory; a fresh server is started for every run. Rounds alternate A, B, A, B, ... at each
connection count; medians and min-max of the rounds are reported, and the ratio B/A of the
medians. Client CPU is the result's cpu_seconds (the worker threads' CPU time) / responses.

    git worktree add build/base-src eaf3d14
    pip install --no-build-isolation --no-deps --target build/base-py build/base-src
    pip install --no-build-isolation --no-deps --target build/head-py .
    python benchmarks/loadgen_ab.py --a build/base-py --a-label before \
        --b build/head-py --b-label after --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from cbuild import build, pinned, run_command  # benchmarks/ is on sys.path

CHILD = """
import json, resource, sys
import netlab
from netlab import LoadGenerator
port, connections, duration, size = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                                     int(sys.argv[4]))
before = resource.getrusage(resource.RUSAGE_SELF)
r = LoadGenerator("127.0.0.1", port, scenario="echo", connections=connections, threads=1,
                  duration=duration, size=size).run()
after = resource.getrusage(resource.RUSAGE_SELF)
proc_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(json.dumps({"netlab": netlab.__file__, "requests": r.requests, "responses": r.responses,
                  "errors": r.errors, "duration": r.duration,
                  "responses_per_s": r.responses_per_s, "cpu_seconds": r.cpu_seconds,
                  "process_cpu_seconds": proc_cpu, "p99_ms": r.latency_ms["p99"]}))
"""


def one_run(pythonpath: str, connections: int, args: argparse.Namespace) -> dict[str, Any]:
    server = subprocess.Popen(pinned(args.server_cpu, [str(build("echo_server")), "0"]),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        match = re.search(r"listening on [\d.]+:(\d+)", server.stdout.readline())
        if not match:
            raise RuntimeError("the C echo server did not start")
        env = dict(os.environ, PYTHONPATH=pythonpath)
        cmd = pinned(args.client_cpu, [sys.executable, "-c", CHILD, match.group(1),
                                       str(connections), str(args.duration), str(args.size)])
        out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=args.duration + 60)
        if out.returncode != 0:
            raise RuntimeError(f"the load generator from {pythonpath} failed: {out.stderr}")
        data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(10)
    if not data["netlab"].startswith(str(Path(pythonpath).resolve())):
        raise RuntimeError(f"{pythonpath}: imported netlab from {data['netlab']}")
    data["client_cpu_us_per_response"] = data["cpu_seconds"] / max(data["responses"], 1) * 1e6
    return data


def spread(values: list[float], fmt: str) -> str:
    return (f"{statistics.median(values):{fmt}} "
            f"({min(values):{fmt}}–{max(values):{fmt}})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="PYTHONPATH of build A")
    parser.add_argument("--b", required=True, help="PYTHONPATH of build B")
    parser.add_argument("--a-label", default="A")
    parser.add_argument("--b-label", default="B")
    parser.add_argument("--connections", default="100,1000")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--out", default=None, help="directory for loadgen_ab.{md,json}")
    args = parser.parse_args()
    command = run_command()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    conns = [int(c) for c in args.connections.split(",")]
    builds = ((args.a_label, args.a), (args.b_label, args.b))

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        str(c): {label: [] for label, _ in builds} for c in conns}
    for n in range(args.rounds):
        for c in conns:
            for label, path in builds:
                r = one_run(path, c, args)
                runs[str(c)][label].append(r)
                print(f"round {n + 1} {c:>5} conns {label:>8}: {r['responses_per_s']:>9,.0f} "
                      f"resp/s  {r['client_cpu_us_per_response']:6.2f} us CPU/response  "
                      f"errors {r['errors']}", flush=True)

    setup = (f"C echo server (`benchmarks/c/echo_server.c`, -O2) on CPU {args.server_cpu}; "
             f"netlab.LoadGenerator (echo, closed loop, {args.size} B, 1 thread) on CPU "
             f"{args.client_cpu}, one subprocess per run with PYTHONPATH={args.a} "
             f"({args.a_label}) or {args.b} ({args.b_label}); {args.duration:g} s per run, "
             f"{args.rounds} rounds interleaved {args.a_label}, {args.b_label}, ...")
    lines = [f"# Load generator, {args.a_label} vs {args.b_label}", "", setup, "",
             "Median (min–max) of the rounds; ratio = "
             f"{args.b_label}/{args.a_label} of the medians.", "",
             "| connections | build | requests/s | client CPU us/response | errors |",
             "| --- | --- | --- | --- | --- |"]
    ratios = []
    for c in conns:
        med: dict[str, tuple[float, float]] = {}
        for label, _ in builds:
            rs = runs[str(c)][label]
            rps = [r["responses_per_s"] for r in rs]
            cpu = [r["client_cpu_us_per_response"] for r in rs]
            med[label] = (statistics.median(rps), statistics.median(cpu))
            lines.append(f"| {c:,} | {label} | {spread(rps, ',.0f')} | {spread(cpu, '.2f')} | "
                         f"{sum(r['errors'] for r in rs)} |")
        (ra, ca), (rb, cb) = med[args.a_label], med[args.b_label]
        ratios.append(f"| {c:,} | {rb / ra:.3f} | {cb / ca:.3f} |")
    lines += ["", f"| connections | requests/s {args.b_label}/{args.a_label} | "
              f"client CPU/response {args.b_label}/{args.a_label} |", "| --- | --- | --- |",
              *ratios]
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "loadgen_ab.md").write_text(f"Command: `{command}`\n\nDate: {date}\n\n" + report)
        data = {"command": command, "date": date, "setup": setup, "runs": runs}
        (out / "loadgen_ab.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
