"""Server CPU per request at a fixed offered rate, for two netlab builds side by side.

The steadier figure on a noisy machine: both servers get the same open-loop load (wrk2-style,
so a slower server cannot lower its own load), rounds alternate A, B, A, B, ... and the spread
of the rounds is reported. Each build is a directory to put first on PYTHONPATH (an installed
netlab when empty), so a change to the engine can be measured against the commit before it:

    git worktree add build/base-src HEAD~1
    pip install --no-build-isolation --target build/base-py build/base-src
    pip install --no-build-isolation --target build/head-py .
    python benchmarks/server_cpu_ab.py --a build/base-py --a-label before \
        --b build/head-py --b-label after
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from cbuild import run_command  # benchmarks/ is on sys.path
from netlab.load import LoadGenerator

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def start_server(pythonpath: str, app: str, model: str,
                 extra: list[str]) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    else:
        env.pop("PYTHONPATH", None)
    proc = subprocess.Popen([sys.executable, "-m", "netlab", "serve", app, "--port", "0",
                             "--model", model, *extra], stdout=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None
    match = re.search(r"listening on [\d.]+:(\d+)", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError(f"server from {pythonpath!r} did not start")
    return proc, int(match.group(1))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def scenario_of(app: str) -> str:
    """HttpServer gets GET / (keep-alive); ChatServer chat messages, each answered by its
    deliveries to the room's other members (the requests counted here); every other app,
    lines."""
    return app if app in ("http", "chat") else "line"


def one_round(pythonpath: str, extra: list[str], args: argparse.Namespace) -> dict[str, float]:
    proc, port = start_server(pythonpath, args.app, args.model, extra)
    try:
        before = cpu_seconds(proc.pid)
        scenario: dict[str, Any] = {"scenario": scenario_of(args.app)}
        if args.app == "http":
            scenario["path"] = "/"
        result = LoadGenerator("127.0.0.1", port, connections=args.connections, threads=1,
                               rate=args.rate, pipeline=args.pipeline, duration=args.duration,
                               **scenario).run()
        cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait(10)
    return {"responses_per_s": result.responses_per_s,
            "server_cpu_us_per_request": cpu / max(result.responses, 1) * 1e6,
            "p99_ms": result.latency_ms["p99"], "errors": float(result.errors)}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", default="", help="PYTHONPATH of build A ('' = installed)")
    parser.add_argument("--b", default="python", help="PYTHONPATH of build B")
    parser.add_argument("--a-label", default="A")
    parser.add_argument("--b-label", default="B")
    parser.add_argument("--a-args", default="", help="extra `serve` flags for A's server")
    parser.add_argument("--b-args", default="", help="extra `serve` flags for B's server")
    parser.add_argument("--app", default="pingpong", help="the served app; http gets GET /")
    parser.add_argument("--model", default="epoll")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--pipeline", type=int, default=1)
    parser.add_argument("--rate", type=float, default=40_000)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None, help="directory for server_cpu_ab.{md,json}")
    args = parser.parse_args()

    runs: dict[str, list[dict[str, float]]] = {args.a_label: [], args.b_label: []}
    for n in range(args.rounds):
        for label, path, extra in ((args.a_label, args.a, args.a_args),
                                   (args.b_label, args.b, args.b_args)):
            runs[label].append(one_round(path, extra.split(), args))
            r = runs[label][-1]
            print(f"round {n + 1} {label:>8}: {r['responses_per_s']:>9,.0f} resp/s  "
                  f"{r['server_cpu_us_per_request']:6.2f} us CPU/request  "
                  f"p99 {r['p99_ms']:.3f} ms  errors {r['errors']:.0f}", flush=True)
    setup = (f"{args.app} ({args.model}), `{scenario_of(args.app)}` scenario, open loop at "
             f"{args.rate:,.0f} req/s, "
             f"{args.connections} connections, pipeline {args.pipeline}, {args.duration:g} s "
             f"per round, {args.rounds} rounds interleaved")
    lines = [f"# Server CPU per request, {args.a_label} vs {args.b_label}", "", setup, "",
             "| build | server CPU us/request (median, min, max) | resp/s | p99 ms |",
             "| --- | --- | --- | --- |"]
    for label, rounds in runs.items():
        lines.append(f"| {label} | {spread([r['server_cpu_us_per_request'] for r in rounds])} | "
                     f"{spread([r['responses_per_s'] for r in rounds])} | "
                     f"{spread([r['p99_ms'] for r in rounds])} |")
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "server_cpu_ab.md").write_text(
            report + f"\nCommand: `{run_command()}`\n")
        data: dict[str, Any] = {"setup": setup, "runs": runs}
        (out / "server_cpu_ab.json").write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
