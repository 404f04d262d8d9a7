"""netlab's epoll echo server and load generator beside minimal C programs doing the same.

The references are benchmarks/c/echo_server.c (one thread, level-triggered epoll, one read and
one write per readable event) and benchmarks/c/echo_client.c (one thread, closed loop, one
64-byte message in flight per connection, every reply byte checked); they are built with
`cc -O2` into build/bench/ when missing or older than their source. Three comparisons, each
with rounds interleaved (netlab, C, netlab, C, ...) and a fresh server per run:

  (a) server CPU per request at a fixed offered rate: netlab's load generator (in this
      process, one thread, open loop, `echo` scenario) offers the same rate to
      `python -m netlab serve echo --model epoll` and to the C server; the server's CPU is
      utime + stime of its whole process from /proc/PID/stat (ticks), with the threads'
      run time from /proc/PID/task/*/schedstat (nanoseconds) beside it;
  (b) throughput, closed loop: the C client drives each server at each connection count;
  (c) load generators: netlab's LoadGenerator (one thread, in a child process whose CPU time
      is taken with getrusage around run()) and the C client (getrusage of its whole process)
      drive the C server; requests/s and client CPU per response.

Servers run on CPU 0 and clients on CPU 1 (`taskset`; --no-pin to let the scheduler place
them); this script itself is pinned to the client CPU, since in (a) it is the client.

    PYTHONPATH=python python benchmarks/echo_vs_c.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from netlab.load import LoadGenerator

from cbuild import build, pinned, run_command  # benchmarks/ is on sys.path
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVERS = ("netlab", "C")
CLIENTS = ("netlab LoadGenerator", "C client")

# The child that runs netlab's load generator for (c): its process CPU is measured around
# run(), so interpreter start-up and imports are left out (the C client has none to speak of).
LOADGEN_CHILD = """
import json, resource, sys
from netlab.load import LoadGenerator
port, connections, duration, size = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), \
    int(sys.argv[4])
gen = LoadGenerator("127.0.0.1", port, scenario="echo", connections=connections, threads=1,
                    duration=duration, size=size)
before = resource.getrusage(resource.RUSAGE_SELF)
r = gen.run()
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(json.dumps({"requests": r.requests, "responses": r.responses, "errors": r.errors,
                  "unanswered": r.unanswered, "duration": r.duration,
                  "requests_per_s": r.responses_per_s, "cpu_seconds": cpu,
                  "worker_cpu_seconds": r.cpu_seconds, "p99_ms": r.latency_ms["p99"]}))
"""


def start_server(kind: str, cpu: Optional[int]) -> tuple[subprocess.Popen[str], int]:
    if kind == "netlab":
        cmd = [sys.executable, "-m", "netlab", "serve", "echo", "--port", "0", "--model", "epoll"]
    else:
        cmd = [str(build("echo_server")), "0"]
    proc = subprocess.Popen(pinned(cpu, cmd), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    match = re.search(r"listening on [\d.]+:(\d+)", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError(f"the {kind} echo server did not start")
    return proc, int(match.group(1))


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_seconds(pid: int) -> float:
    """The run time of all the process's threads, from /proc/PID/task/*/schedstat (ns)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return total / 1e9


def server_cpu_at_rate(cmd: list[str], env: dict[str, str], connections: int, rate: float,
                       duration: float, size: int = 64, cpu: Optional[int] = 0) -> float:
    """Server CPU us per request of the server `cmd` starts (pinned to `cpu`; it prints
    "listening on HOST:PORT" first) while netlab's load generator offers `rate` echo
    requests/s over `connections`, one thread, open loop. A run with errors, or one that
    fell short of the rate, raises: CPU per request means little off the rate."""
    proc = subprocess.Popen(pinned(cpu, cmd), stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    match = re.search(r"listening on [\d.]+:(\d+)", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError(f"{' '.join(cmd)} did not start")
    try:
        before = cpu_seconds(proc.pid)
        result = LoadGenerator("127.0.0.1", int(match.group(1)), scenario="echo",
                               connections=connections, threads=1, rate=rate,
                               duration=duration, size=size).run()
        used = cpu_seconds(proc.pid) - before
    finally:
        stop(proc)
    if result.errors:
        raise RuntimeError(f"{' '.join(cmd)}: {result.errors} errors at {rate:,.0f} req/s")
    if result.responses_per_s < 0.95 * rate:
        raise RuntimeError(f"{' '.join(cmd)}: {result.responses_per_s:,.0f} responses/s of "
                           f"{rate:,.0f} offered")
    return used / max(result.responses, 1) * 1e6


def c_client(port: int, connections: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = pinned(args.client_cpu, [str(build("echo_client")), str(port), str(connections),
                                   str(args.duration), str(args.size)])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"echo_client failed: {out.stderr.strip()} {out.stdout.strip()}")
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def loadgen_client(port: int, connections: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = pinned(args.client_cpu, [sys.executable, "-c", LOADGEN_CHILD, str(port),
                                   str(connections), str(args.duration), str(args.size)])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"the load generator failed: {out.stderr.strip()}")
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def fixed_rate_round(kind: str, args: argparse.Namespace) -> dict[str, float]:
    proc, port = start_server(kind, args.server_cpu)
    try:
        before, before_run = cpu_seconds(proc.pid), run_seconds(proc.pid)
        result = LoadGenerator("127.0.0.1", port, scenario="echo",
                               connections=args.rate_connections, threads=1, rate=args.rate,
                               duration=args.duration, size=args.size).run()
        cpu, run = cpu_seconds(proc.pid) - before, run_seconds(proc.pid) - before_run
    finally:
        stop(proc)
    responses = max(result.responses, 1)
    return {"responses_per_s": result.responses_per_s, "responses": float(result.responses),
            "server_cpu_seconds": cpu, "server_cpu_us_per_request": cpu / responses * 1e6,
            "server_run_us_per_request": run / responses * 1e6,
            "p99_ms": result.latency_ms["p99"],
            "errors": float(result.errors + result.unanswered)}


def throughput_round(kind: str, connections: int, args: argparse.Namespace) -> dict[str, float]:
    proc, port = start_server(kind, args.server_cpu)
    try:
        before = cpu_seconds(proc.pid)
        r = c_client(port, connections, args)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        stop(proc)
    return {"requests_per_s": r["requests_per_s"], "responses": float(r["responses"]),
            "server_cpu_seconds": cpu,
            "server_cpu_us_per_request": cpu / max(r["responses"], 1) * 1e6,
            "errors": float(r["errors"])}


def client_round(kind: str, connections: int, args: argparse.Namespace) -> dict[str, float]:
    proc, port = start_server("C", args.server_cpu)
    try:
        if kind == CLIENTS[0]:
            r = loadgen_client(port, connections, args)
        else:
            r = c_client(port, connections, args)
    finally:
        stop(proc)
    out = {"requests_per_s": r["requests_per_s"], "responses": float(r["responses"]),
           "client_cpu_seconds": r["cpu_seconds"],
           "client_cpu_us_per_response": r["cpu_seconds"] / max(r["responses"], 1) * 1e6,
           "errors": float(r["errors"] + r.get("unanswered", 0))}
    if "worker_cpu_seconds" in r:
        out["worker_cpu_us_per_response"] = r["worker_cpu_seconds"] / max(r["responses"], 1) * 1e6
    return out


def median(rounds: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def spread(rounds: list[dict[str, float]], key: str, fmt: str = ",.2f") -> str:
    values = [r[key] for r in rounds]
    return (f"{statistics.median(values):{fmt}} "
            f"({min(values):{fmt}}–{max(values):{fmt}})")


def paired(a: list[dict[str, float]], b: list[dict[str, float]], key: str) -> float:
    """The median of round-by-round ratios a/b. Rounds alternate a, b, a, b, so each pair ran
    seconds apart: when the machine switches between fast and slow spells (seen here as
    rounds falling near two distinct rates), a pair mostly shares one, and its ratio compares
    the programs rather than the spells."""
    return statistics.median(x[key] / y[key] for x, y in zip(a, b))


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per comparison")
    parser.add_argument("--duration", type=float, default=3, help="seconds per run")
    parser.add_argument("--rate", type=float, default=40_000, help="(a): offered req/s")
    parser.add_argument("--rate-connections", type=int, default=100, help="(a): connections")
    parser.add_argument("--connections", default="100,1000",
                        help="(b) and (c): comma-separated connection counts")
    parser.add_argument("--size", type=int, default=64, help="message bytes")
    parser.add_argument("--parts", default="a,b,c", help="which comparisons to run")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin servers to CPU 0 and clients to CPU 1")
    parser.add_argument("--out", default=None, help="directory for echo_vs_c.{md,json}")
    args = parser.parse_args()
    args.server_cpu, args.client_cpu = (None, None) if args.no_pin else (0, 1)
    if args.client_cpu is not None:
        os.sched_setaffinity(0, {args.client_cpu})  # (a)'s load generator runs in here
    counts = [int(c) for c in args.connections.split(",")]
    parts = set(args.parts.split(","))
    for name in ("echo_server", "echo_client"):
        build(name)
    command = run_command()
    started = datetime.datetime.now()

    fixed: dict[str, list[dict[str, float]]] = {k: [] for k in SERVERS}
    through: dict[int, dict[str, list[dict[str, float]]]] = {
        n: {k: [] for k in SERVERS} for n in counts}
    clients: dict[int, dict[str, list[dict[str, float]]]] = {
        n: {k: [] for k in CLIENTS} for n in counts}
    if "a" in parts:
        for i in range(args.rounds):
            for kind in SERVERS:
                r = fixed_rate_round(kind, args)
                fixed[kind].append(r)
                print(f"(a) round {i + 1} {kind:>6}: {r['responses_per_s']:9,.0f} resp/s  "
                      f"{r['server_cpu_us_per_request']:6.2f} us CPU/request "
                      f"(schedstat {r['server_run_us_per_request']:.2f})  "
                      f"p99 {r['p99_ms']:.3f} ms  errors {r['errors']:.0f}", flush=True)
    if "b" in parts:
        for n in counts:
            for i in range(args.rounds):
                for kind in SERVERS:
                    r = throughput_round(kind, n, args)
                    through[n][kind].append(r)
                    print(f"(b) {n:>5} conns round {i + 1} {kind:>6}: "
                          f"{r['requests_per_s']:9,.0f} req/s  "
                          f"{r['server_cpu_us_per_request']:6.2f} us server CPU/request  "
                          f"errors {r['errors']:.0f}", flush=True)
    if "c" in parts:
        for n in counts:
            for i in range(args.rounds):
                for kind in CLIENTS:
                    r = client_round(kind, n, args)
                    clients[n][kind].append(r)
                    print(f"(c) {n:>5} conns round {i + 1} {kind:>20}: "
                          f"{r['requests_per_s']:9,.0f} req/s  "
                          f"{r['client_cpu_us_per_response']:6.2f} us client CPU/response  "
                          f"errors {r['errors']:.0f}", flush=True)

    pin = ("servers on CPU 0, clients on CPU 1 (taskset)" if args.server_cpu is not None
           else "unpinned")
    lines = [f"Command: `{command}`", "",
             f"Date: {started:%Y-%m-%d %H:%M}; {os.cpu_count()} CPUs "
             f"({platform.processor() or platform.machine()}), Linux {platform.release()}; "
             f"{pin}; {args.rounds} rounds interleaved, {args.duration:g} s per run, "
             f"{args.size}-byte messages; figures are median (min–max) over the rounds.", "",
             "# netlab's echo server and load generator beside minimal C programs", ""]
    targets: list[tuple[str, str, str, bool]] = []  # target, median ratio, paired, met
    if "a" in parts:
        lines += [f"## (a) Server CPU per request at a fixed offered rate", "",
                  f"netlab's load generator (one thread, open loop) offers "
                  f"{args.rate:,.0f} req/s over {args.rate_connections} connections to "
                  f"`python -m netlab serve echo --model epoll` and to "
                  f"`build/bench/echo_server`. Server CPU: utime + stime of the whole server "
                  f"process from /proc/PID/stat (1/{CLOCK_TICKS} s ticks); schedstat: the run "
                  f"time of its threads in ns, a finer cross-check.", "",
                  "| server | server CPU us/request | (schedstat) | resp/s | p99 ms | errors |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for kind in SERVERS:
            rs = fixed[kind]
            lines.append(f"| {kind} | {spread(rs, 'server_cpu_us_per_request')} | "
                         f"{spread(rs, 'server_run_us_per_request')} | "
                         f"{spread(rs, 'responses_per_s', ',.0f')} | "
                         f"{spread(rs, 'p99_ms', '.3f')} | "
                         f"{sum(r['errors'] for r in rs):.0f} |")
        ratio = (median(fixed["netlab"], "server_cpu_us_per_request")
                 / median(fixed["C"], "server_cpu_us_per_request"))
        run_ratio = (median(fixed["netlab"], "server_run_us_per_request")
                     / median(fixed["C"], "server_run_us_per_request"))
        lines += ["", f"Ratio netlab/C, CPU per request: **{ratio:.2f}x** "
                  f"(schedstat: {run_ratio:.2f}x).", ""]
        pair = paired(fixed["netlab"], fixed["C"], "server_cpu_us_per_request")
        targets.append(("echo server CPU per request <= 1.0x C's", f"{ratio:.2f}x",
                        f"{pair:.2f}x", ratio <= 1.0))
    if "b" in parts:
        lines += ["## (b) Throughput, closed loop, driven by the C client", "",
                  "The C client (one thread, one message in flight per connection) against each "
                  "server; server CPU per request for reference.", "",
                  "| connections | server | req/s | server CPU us/request | errors |",
                  "| --- | --- | --- | --- | --- |"]
        ratios = {}
        for n in counts:
            for kind in SERVERS:
                rs = through[n][kind]
                lines.append(f"| {n:,} | {kind} | {spread(rs, 'requests_per_s', ',.0f')} | "
                             f"{spread(rs, 'server_cpu_us_per_request')} | "
                             f"{sum(r['errors'] for r in rs):.0f} |")
            ratios[n] = (median(through[n]["netlab"], "requests_per_s")
                         / median(through[n]["C"], "requests_per_s"))
        lines += ["", "Ratio netlab/C, median req/s: " + ", ".join(
            f"**{ratios[n]:.2f}x** at {n:,} connections" for n in counts) + ".", ""]
        for n in counts:
            pair = paired(through[n]["netlab"], through[n]["C"], "requests_per_s")
            targets.append((f"echo throughput >= 1.0x C ({n:,} connections)",
                            f"{ratios[n]:.2f}x", f"{pair:.2f}x", ratios[n] >= 1.0))
    if "c" in parts:
        lines += ["## (c) Load generators driving the C server", "",
                  "netlab's LoadGenerator (`echo` scenario, one thread, closed loop, in a child "
                  "process; CPU from getrusage around run()) beside the C client (getrusage of "
                  "its whole process); both check every reply byte. The worker column is the "
                  "load generator's own LoadResult.cpu_seconds (its worker thread only).", "",
                  "| connections | client | req/s | client CPU us/response | (worker thread) "
                  "| errors |", "| --- | --- | --- | --- | --- | --- |"]
        rps_ratio, cpu_ratio = {}, {}
        for n in counts:
            for kind in CLIENTS:
                rs = clients[n][kind]
                worker = (spread(rs, "worker_cpu_us_per_response")
                          if "worker_cpu_us_per_response" in rs[0] else "")
                lines.append(f"| {n:,} | {kind} | {spread(rs, 'requests_per_s', ',.0f')} | "
                             f"{spread(rs, 'client_cpu_us_per_response')} | {worker} | "
                             f"{sum(r['errors'] for r in rs):.0f} |")
            ng, c = clients[n][CLIENTS[0]], clients[n][CLIENTS[1]]
            rps_ratio[n] = median(ng, "requests_per_s") / median(c, "requests_per_s")
            cpu_ratio[n] = (median(ng, "client_cpu_us_per_response")
                            / median(c, "client_cpu_us_per_response"))
        lines += ["", "Ratio LoadGenerator/C client: " + "; ".join(
            f"at {n:,} connections **{rps_ratio[n]:.2f}x** req/s, "
            f"**{cpu_ratio[n]:.2f}x** CPU per response" for n in counts) + ".", ""]
        for n in counts:
            ng, c = clients[n][CLIENTS[0]], clients[n][CLIENTS[1]]
            rps_pair = paired(ng, c, "requests_per_s")
            cpu_pair = paired(ng, c, "client_cpu_us_per_response")
            targets.append((f"load generator req/s >= 1.0x the C client's ({n:,} connections)",
                            f"{rps_ratio[n]:.2f}x", f"{rps_pair:.2f}x", rps_ratio[n] >= 1.0))
            targets.append((f"load generator CPU/response <= 1.0x the C client's "
                            f"({n:,} connections)", f"{cpu_ratio[n]:.2f}x", f"{cpu_pair:.2f}x",
                            cpu_ratio[n] <= 1.0))
    if targets:
        lines += ["## Targets (issue 12), from the medians", "",
                  "The verdict is the issue's: the ratio of the two medians. Beside it, the "
                  "median of the round-by-round ratios (netlab's round against the C round run "
                  "just after it), steadier when the machine has fast and slow spells.", "",
                  "| target | ratio of medians | paired rounds | |", "| --- | --- | --- | --- |"]
        lines += [f"| {t} | {fig} | {pair} | {verdict(ok)} |" for t, fig, pair, ok in targets]
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "echo_vs_c.md").write_text(report)
        data: dict[str, Any] = {
            "command": f"PYTHONPATH=python {command}", "date": started.isoformat(),
            "settings": {k: v for k, v in vars(args).items() if k != "out"},
            "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
            "fixed_rate": fixed,
            "throughput": {str(n): v for n, v in through.items()},
            "clients": {str(n): v for n, v in clients.items()},
            "targets": [{"target": t, "figure": fig, "paired": pair, "met": ok}
                        for t, fig, pair, ok in targets]}
        (out / "echo_vs_c.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
