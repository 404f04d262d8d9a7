"""User-space instructions per response of the load generator, counted by callgrind: the one
figure of a client's own work that this noisy machine repeats (to 0.1% here).

Wall-clock rounds here spread by ±20%, and a change worth a few percent of a client's
user-space work is lost in them (its time is over 90% in the kernel). `valgrind
--tool=callgrind` counts the instructions the process executes instead, nearly the same for
the same binary and inputs whatever else the machine does (only how many responses one read
brings, and what is paced by the clock, differ between runs). Each build's LoadGenerator (echo,
closed loop, 64 B, one thread, a fixed number of requests) runs under callgrind against the
C echo server (benchmarks/c/echo_server.c, not under valgrind); the C echo client
(benchmarks/c/echo_client.c) runs the same way as the reference. Reported per response:

- event path: inclusive instructions of netlab::Stream::onReady, the work of every readiness
  event (read, verify, record, write the next request), system call wrappers included, the
  kernel's work not;
- whole run: inclusive instructions of LoadWorker::runFor (the event path, plus the loop,
  timers, the per-second timeline and the end of the run); for the C client, main().

Under valgrind the load generator answers about a third as many responses a second (here
47k against 142k at 1,000 connections; the kernel's share is not slowed), so whatever is
paced by the clock (the 10 ms tick, the per-second timeline) weighs about three times more
per response in "whole run" than in a real run;
the event path does not depend on the clock. With --cache-sim the runs also go through
callgrind's cache simulator, and the report adds the whole run's simulated L1 data misses
(reads and writes, user space only) per response: how many of its own cache lines a
response touches that were not still cached. Needs valgrind (Debian: `apt-get install
valgrind`).

    python benchmarks/loadgen_instructions.py --build before=build/base-py \\
        --build after=build/head-py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
from typing import Any

from cbuild import build, pinned, record  # benchmarks/ is on sys.path
from echo_vs_c import start_server, stop

SERVER_CPU, CLIENT_CPU = 0, 1
LOADGEN = """
from netlab.load import LoadGenerator
r = LoadGenerator("127.0.0.1", {port}, scenario="echo", connections={connections}, threads=1,
                  requests={requests}, size=64).run()
print("RESPONSES", r.responses, r.errors)
"""


def inclusive_events(profile: str, function: str) -> dict[str, int]:
    """The counts by event of the first function whose name holds `function`, inclusive."""
    # Every function (--threshold=100): in a short run Python's start-up outweighs the load
    # generator, whose functions would fall under the default cut of 99% of the total.
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
                         capture_output=True, text=True, check=True).stdout
    names: list[str] = []
    for line in out.splitlines():
        if line.startswith("Events shown:"):
            names = line.split()[2:]
        elif function in line:
            # Counts are "1,234" or "." (none), each followed by its share "(12.34%)".
            tokens = [t for t in line.split()[:3 * len(names)] if t != "(" and "%" not in t]
            counts = [0 if t == "." else int(t.replace(",", "")) for t in tokens[:len(names)]]
            return dict(zip(names, counts))
    raise SystemExit(f"{function} is not in {profile}: was the build stripped of symbols?")


def inclusive(profile: str, function: str) -> int:
    """Inclusive instructions of the first function whose name contains `function`."""
    return inclusive_events(profile, function)["Ir"]


def l1_misses(profile: str, function: str) -> int:
    counts = inclusive_events(profile, function)
    return counts["D1mr"] + counts["D1mw"]


CACHE_SIM: list[str] = []  # ["--cache-sim=yes"] with --cache-sim


def callgrind(cmd: list[str], env: dict[str, str], profile: str) -> str:
    full = ["valgrind", "--tool=callgrind", *CACHE_SIM, f"--callgrind-out-file={profile}",
            *cmd]
    done = subprocess.run(pinned(CLIENT_CPU, full), capture_output=True, text=True, env=env,
                          timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed under valgrind:\n{done.stderr[-2000:]}")
    return done.stdout


def measure_netlab(path: str, connections: int, requests: int, tmp: str) -> dict[str, Any]:
    server, port = start_server("c", SERVER_CPU)
    try:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(path))
        code = LOADGEN.format(port=port, connections=connections, requests=requests)
        profile = os.path.join(tmp, f"netlab-{len(os.listdir(tmp))}")
        out = callgrind([sys.executable, "-c", code], env, profile)
    finally:
        stop(server)
    match = re.search(r"RESPONSES (\d+) (\d+)", out)
    if not match or int(match.group(1)) == 0:
        raise SystemExit(f"the load generator at {path} printed no responses:\n{out}")
    responses = int(match.group(1))
    row = {"responses": responses, "errors": int(match.group(2)),
           "event_path": inclusive(profile, "netlab::Stream::onReady") / responses,
           "whole_run": inclusive(profile, "netlab::LoadWorker::runFor") / responses}
    if CACHE_SIM:
        row["l1_misses"] = l1_misses(profile, "netlab::LoadWorker::runFor") / responses
    return row


def measure_c(connections: int, seconds: float, tmp: str) -> dict[str, Any]:
    server, port = start_server("c", SERVER_CPU)
    try:
        profile = os.path.join(tmp, f"c-{connections}")
        out = callgrind([str(build("echo_client")), str(port), str(connections), str(seconds),
                         "64"], dict(os.environ), profile)
    finally:
        stop(server)
    match = re.search(r'"responses": (\d+)', out)
    if not match:
        raise SystemExit(f"echo_client printed no responses:\n{out}")
    responses = int(match.group(1))
    row = {"responses": responses, "errors": 0, "event_path": None,
           "whole_run": inclusive(profile, ":main [") / responses}
    if CACHE_SIM:
        row["l1_misses"] = l1_misses(profile, ":main [") / responses
    return row


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"# Load generator instructions per response ({datetime.date.today()})", "",
        f"`benchmarks/loadgen_instructions.py` on {platform.node()}: callgrind's count of "
        f"user-space instructions (Ir) per response; echo, closed loop, 64 B, one thread, "
        f"{args.requests:,} requests per netlab run, against benchmarks/c/echo_server.c. "
        "The event path repeats to within 0.1% run to run; the whole run moves a little more, "
        "as it holds what is paced by the clock.", "",
        "| connections | client | responses | event path | whole run |"
        + (" L1 data misses |" if CACHE_SIM else ""),
        "| --- | --- | --- | --- | --- |" + (" --- |" if CACHE_SIM else "")]
    for row in rows:
        event = "-" if row["event_path"] is None else f"{row['event_path']:,.0f}"
        misses = f" {row['l1_misses']:.2f} |" if CACHE_SIM else ""
        lines.append(f"| {row['connections']:,} | {row['client']} | {row['responses']:,} | "
                     f"{event} | {row['whole_run']:,.0f} |{misses}")
    labels = [label for label, _ in args.build]
    if len(labels) >= 2:
        lines += ["", f"Ratios {labels[-1]}/{labels[0]}:", ""]
        for connections in args.connections:
            by = {r["client"]: r for r in rows if r["connections"] == connections}
            a, b = by[labels[0]], by[labels[-1]]
            lines.append(f"- {connections:,} connections: event path "
                         f"{b['event_path'] / a['event_path']:.3f}x, whole run "
                         f"{b['whole_run'] / a['whole_run']:.3f}x")
    return "\n".join(lines) + "\n"


def parse_build(text: str) -> tuple[str, str]:
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError("expected LABEL=PYTHONPATH")
    return label, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=parse_build, action="append", required=True,
                        metavar="LABEL=PYTHONPATH", help="a netlab build (repeatable)")
    parser.add_argument("--connections", type=lambda s: [int(x) for x in s.split(",")],
                        default=[100, 1000])
    parser.add_argument("--requests", type=int, default=150_000)
    parser.add_argument("--c-seconds", type=float, default=4.0,
                        help="how long the C client runs under valgrind")
    parser.add_argument("--cache-sim", action="store_true",
                        help="also count simulated L1 data misses (slower)")
    parser.add_argument("--out", help="write NAME.md and NAME.json here")
    args = parser.parse_args()
    if args.cache_sim:
        CACHE_SIM.append("--cache-sim=yes")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for connections in args.connections:
            for label, path in args.build:
                row = measure_netlab(path, connections, args.requests, tmp)
                rows.append({"connections": connections, "client": label, **row})
                print(rows[-1], flush=True)
            row = measure_c(connections, args.c_seconds, tmp)
            rows.append({"connections": connections, "client": "C echo_client", **row})
            print(rows[-1], flush=True)
    text = report(rows, args)
    print(text)
    record(args.out, "loadgen_instructions", text,
           {"date": str(datetime.date.today()), "host": platform.node(),
            "requests": args.requests, "rows": rows})


if __name__ == "__main__":
    main()
