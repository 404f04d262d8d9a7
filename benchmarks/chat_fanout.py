"""Chat fan-out: delivered messages/s and delivery latency, epoll beside threaded.

1. 100 clients in one room, each sending 10 messages/s (1,000/s in total, so 99,000
   deliveries/s), for each I/O model in turn.
2. The highest aggregate send rate the epoll server sustains with delivery p99 under 10 ms:
   the rate doubles from 250 msg/s until p99 passes 10 ms or a message is lost.

The server runs in its own process (``python -m netlab serve chat``); netlab's load generator
(scenario ``chat``) stamps each message with its intended send time, so latency is from
when a message should have left to when each other member received it.
Usage: python benchmarks/chat_fanout.py [--duration 10] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

from netlab import LoadGenerator
from netlab.lab import ServerProcess

CLIENTS = 100
SIZE = 64


def run(model: str, rate: float, duration: float) -> dict[str, Any]:
    server = ServerProcess(model, app="chat")
    try:
        cpu0 = server.cpu_seconds()
        r = LoadGenerator("127.0.0.1", server.port, scenario="chat", connections=CLIENTS,
                          threads=1, rate=rate, duration=duration, size=SIZE).run()
        return {"model": model, "send_rate": rate, "sent_per_s": r.requests_per_s,
                "delivered_per_s": r.responses_per_s, "p50_ms": r.latency_ms["p50"],
                "p99_ms": r.latency_ms["p99"], "max_ms": r.latency_ms["max"],
                "errors": r.errors, "expected_per_s": r.requests_per_s * (CLIENTS - 1),
                "server_cpu_s": server.cpu_seconds() - cpu0, "client_cpu_s": r.cpu_seconds}
    finally:
        server.close()


def row(r: dict[str, Any]) -> str:
    return (f"| {r['model']} | {r['send_rate']:,.0f} | {r['delivered_per_s']:,.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['errors']} | "
            f"{r['server_cpu_s']:.1f} |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    head = ("| model | send msg/s | delivered msg/s | p50 ms | p99 ms | max ms | errors | "
            "server CPU s |\n|---|---|---|---|---|---|---|---|\n")

    fixed = [run(model, CLIENTS * 10, args.duration) for model in ("epoll", "threaded")]
    part1 = head + "".join(row(r) for r in fixed)
    print(part1, flush=True)

    sweep, best = [], None
    rate = 250.0
    while rate <= 64000:
        r = run("epoll", rate, max(3.0, args.duration / 2))
        sweep.append(r)
        print(row(r), end="", flush=True)
        lost = r["delivered_per_s"] < 0.98 * r["expected_per_s"]
        if r["p99_ms"] >= 10 or r["errors"] or lost:
            break
        best = r
        rate *= 2
    part2 = head + "".join(row(r) for r in sweep)
    verdict = (f"Highest rate with delivery p99 < 10 ms: {best['send_rate']:,.0f} msg/s sent, "
               f"{best['delivered_per_s']:,.0f} deliveries/s (p99 {best['p99_ms']:.2f} ms)."
               if best else "No rate met p99 < 10 ms.")
    print("\n" + verdict)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "clients": CLIENTS,
                "size": SIZE, "duration": args.duration}
        (args.out / "chat_fanout.json").write_text(json.dumps(
            {"meta": meta, "fixed": fixed, "sweep": sweep, "best": best}, indent=2))
        (args.out / "chat_fanout.md").write_text(
            "# Chat fan-out\n\n"
            f"`python benchmarks/chat_fanout.py --duration {args.duration:g}`: {CLIENTS} clients in "
            f"one room, {SIZE}-byte messages, server in its own process, load generator on one "
            f"thread, {meta['cpus']} CPUs shared.\n\n"
            f"## 100 clients x 10 msg/s\n\n{part1}\n## epoll: rate doubling until p99 >= 10 ms\n\n"
            f"{part2}\n{verdict}\n")


if __name__ == "__main__":
    main()
