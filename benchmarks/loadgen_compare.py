"""netlab's load generator beside the clients people write by hand, against one server.

In one run, against the same netlab epoll echo server (its own process), 64-byte messages,
closed loop, for each connection count:

- ``netlab``: ``netlab.LoadGenerator`` on one worker thread (so at most one core);
- ``asyncio``: a pure-Python asyncio client, one task per connection;
- ``threads``: a thread-per-connection blocking client, as in the classic loadgen example.

Each client measures every request's latency itself (perf_counter around send/receive for the
Python clients). Client CPU is the process (or worker-thread) CPU time during the run.
Usage: python benchmarks/loadgen_compare.py [--duration 5] [--connections 100,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from netlab import LoadGenerator
from netlab.lab import ServerProcess

SIZE = 64
PAYLOAD = bytes(range(SIZE))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def run_netlab(port: int, connections: int, duration: float) -> dict[str, Any]:
    r = LoadGenerator("127.0.0.1", port, connections=connections, threads=1, duration=duration,
                      size=SIZE).run()
    return {"rps": r.responses_per_s, "p99_ms": r.latency_ms["p99"],
            "p50_ms": r.latency_ms["p50"], "errors": r.errors, "cpu_s": r.cpu_seconds,
            "duration": r.duration}


def run_asyncio(port: int, connections: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0

    async def client(stop_at: float) -> None:
        nonlocal errors
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            errors += 1
            return
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                writer.write(PAYLOAD)
                if await reader.readexactly(SIZE) != PAYLOAD:
                    errors += 1
                latencies.append(time.perf_counter() - t0)
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
        writer.close()

    async def main() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(client(start + duration) for _ in range(connections)))
        return time.perf_counter() - start

    cpu0 = time.process_time()
    elapsed = asyncio.run(main())
    return summarize(latencies, errors, elapsed, time.process_time() - cpu0)


def run_threads(port: int, connections: int, duration: float) -> dict[str, Any]:
    per_thread: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start = time.perf_counter()
    stop_at = start + duration

    def client(i: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while time.perf_counter() < stop_at:
                    t0 = time.perf_counter()
                    s.sendall(PAYLOAD)
                    got = b""
                    while len(got) < SIZE:
                        chunk = s.recv(SIZE - len(got))
                        if not chunk:
                            raise ConnectionError("closed")
                        got += chunk
                    if got != PAYLOAD:
                        errors[i] += 1
                    per_thread[i].append(time.perf_counter() - t0)
        except OSError:
            errors[i] += 1

    cpu0 = time.process_time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies = [x for lst in per_thread for x in lst]
    return summarize(latencies, sum(errors), elapsed, time.process_time() - cpu0)


def summarize(latencies: list[float], errors: int, elapsed: float, cpu: float) -> dict[str, Any]:
    return {"rps": len(latencies) / elapsed, "p99_ms": percentile(latencies, 99) * 1e3,
            "p50_ms": (statistics.median(latencies) * 1e3) if latencies else 0.0,
            "errors": errors, "cpu_s": cpu, "duration": elapsed}


CLIENTS = {"netlab": run_netlab, "asyncio": run_asyncio, "threads": run_threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", default="100,1000")
    parser.add_argument("--out", type=Path, default=None, help="write loadgen_compare.{json,md}")
    args = parser.parse_args()
    counts = [int(c) for c in args.connections.split(",")]

    server = ServerProcess("epoll")
    rows = []
    try:
        for n in counts:
            for name, run in CLIENTS.items():
                cpu0 = server.cpu_seconds()
                r = run(server.port, n, args.duration)
                r.update(client=name, connections=n,
                         server_cpu_s=server.cpu_seconds() - cpu0,
                         client_cores=r["cpu_s"] / r["duration"])
                rows.append(r)
                print(f"{n:>5} conns  {name:<8} {r['rps']:>10,.0f} req/s  p99 {r['p99_ms']:8.3f} ms"
                      f"  client CPU {r['client_cores']:.2f} cores  errors {r['errors']}",
                      flush=True)
    finally:
        server.close()

    table = ("| connections | client | req/s | p50 ms | p99 ms | client cores | errors |\n"
             "|---|---|---|---|---|---|---|\n" + "".join(
                 f"| {r['connections']} | {r['client']} | {r['rps']:,.0f} | {r['p50_ms']:.3f} | "
                 f"{r['p99_ms']:.3f} | {r['client_cores']:.2f} | {r['errors']} |\n" for r in rows))
    print("\n" + table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = {"python": platform.python_version(), "cpus": os.cpu_count(),
                "duration": args.duration, "size": SIZE, "server": "netlab EchoServer epoll, 1 loop"}
        (args.out / "loadgen_compare.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                                  indent=2))
        (args.out / "loadgen_compare.md").write_text(
            "# Load generators side by side\n\n"
            f"`python benchmarks/loadgen_compare.py --duration {args.duration:g} --connections "
            f"{args.connections}`: netlab epoll echo server (own process, one loop), {SIZE}-byte "
            f"messages, closed loop, {args.duration:g} s per run, {meta['cpus']} CPUs shared by "
            "server and client.\n\n" + table)


if __name__ == "__main__":
    main()
