"""Locust with a pure-Python TCP user, with netlab's PingUser, and with SwarmUser.

In one run, against the same netlab epoll ping-pong server (its own process), one Locust
process each, headless, no waits: requests/s from Locust's own CSV, and the Locust
process's CPU seconds (user + system, including SwarmUser's native threads).
Usage: python benchmarks/locust_compare.py [--duration 10] [--users 100]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from netlab.lab import ServerProcess

HERE = Path(__file__).resolve().parent


def run(kind: str, users: int, duration: float, port: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        env = dict(os.environ, BENCH_USER=kind, NETLAB_SWARM_CONNECTIONS=str(users))
        n = "1" if kind == "SwarmPingUser" else str(users)
        subprocess.run([sys.executable, "-m", "locust", "-f", str(HERE / "locust" / "users.py"),
                        "--headless", "-u", n, "-r", n, "-t", f"{duration:g}s", "--host",
                        f"tcp://127.0.0.1:{port}", "--csv", f"{tmp}/run", "--only-summary"],
                       env=env, capture_output=True, text=True, timeout=duration + 120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(f"{tmp}/run_stats.csv") as f:
            row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"user": kind, "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]), "rps": float(row["Requests/s"]),
            "median_ms": float(row["Median Response Time"]), "locust_cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    server = ServerProcess("epoll", app="pingpong")
    try:
        rows = [run(kind, args.users, args.duration, server.port)
                for kind in ("PurePythonPingUser", "NetlabPingUser", "SwarmPingUser")]
    finally:
        server.close()
    base = rows[0]["rps"] or 1.0
    table = ("| Locust user | requests/s | x pure Python | failures | Locust CPU s |\n"
             "|---|---|---|---|---|\n" + "".join(
                 f"| {r['user']} | {r['rps']:,.0f} | {r['rps'] / base:.1f} | {r['failures']} | "
                 f"{r['locust_cpu_s']:.1f} |\n" for r in rows))
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = {"python": platform.python_version(), "cpus": os.cpu_count(),
                "duration": args.duration, "users": args.users}
        (args.out / "locust_compare.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                                 indent=2))
        (args.out / "locust_compare.md").write_text(
            "# Locust users side by side\n\n"
            f"`python benchmarks/locust_compare.py --duration {args.duration:g} --users "
            f"{args.users}`: netlab epoll ping-pong server in its own process, one Locust "
            f"process per row, no waits, {args.users} users (SwarmUser: 1 user driving "
            f"{args.users} connections), {meta['cpus']} CPUs shared.\n\n" + table)


if __name__ == "__main__":
    main()
