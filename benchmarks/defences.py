"""What hostile clients cost a netlab server: the figures behind the defence tests.

- a /who flooder (13,000 commands a burst, without end, reading as fast as it can) beside a
  probe pair in another room of the same chat server with 800 members: the probe's latency;
- a join storm of 5,000 chat clients: how long a newcomer then waits for its welcome;
- 2,000 connections each holding a 65,535-byte partial line (pingpong): server RSS before,
  at the peak, and after they have gone.

Each server runs in its own process (`python -m netlab serve`), as a user would start it.

    python benchmarks/defences.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from netlab import ChatClient


class Served:
    """`python -m netlab serve APP ...` on a free port, and its /proc figures."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "netlab", "serve", *args, "--port",
                                      "0"], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        match = re.search(r"listening on [\d.]+:(\d+)", self.proc.stdout.readline())
        if not match:
            self.proc.kill()
            raise RuntimeError(f"server {args} did not start")
        self.port = int(match.group(1))

    def rss_mib(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def lobby_size(port: int) -> int:
    with ChatClient("127.0.0.1", port) as c:
        c.send("/rooms")
        line = next(l for l in iter(lambda: c.recv(5), None) if l.startswith("* rooms:"))
    return int(line.split("lobby (", 1)[1].split(")", 1)[0]) - 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def probe(port: int, count: int) -> list[float]:
    """Seconds from send to delivery between two clients in their own room."""
    with ChatClient("127.0.0.1", port, nick="probe_a") as a, \
            ChatClient("127.0.0.1", port, nick="probe_b") as b:
        a.send("/join probe")
        b.send("/join probe")
        time.sleep(0.2)
        out = []
        for n in range(count):
            a.send(f"t {time.monotonic():.6f} {n}")
            line = next(l for l in iter(lambda: b.recv(10), None) if l.startswith("<probe_a> t "))
            out.append(time.monotonic() - float(line.split()[2]))
            time.sleep(0.01)
        return out


def flooder(model: str, members: int = 800, probes: int = 200) -> dict[str, Any]:
    server = Served("chat", "--model", model)
    try:
        crowd = [connect(server.port) for _ in range(members)]
        while lobby_size(server.port) < members:
            time.sleep(0.1)
        sock = connect(server.port)
        on = threading.Event()
        on.set()
        received = [0]

        def read() -> None:
            sock.settimeout(1)
            while on.is_set():
                try:
                    received[0] += len(sock.recv(1 << 16))
                except OSError:
                    continue

        def flood() -> None:
            try:
                while on.is_set():
                    sock.sendall(b"/who\n" * 13_000)
            except OSError:
                pass

        threads = [threading.Thread(target=read), threading.Thread(target=flood)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        started = time.monotonic()
        latencies = probe(server.port, probes)
        seconds = time.monotonic() - started
        on.clear()
        threads[0].join()
        sock.close()
        threads[1].join()
        for c in crowd:
            c.close()
        return {"model": model, "members": members, "probe_p50_ms": percentile(latencies, 50) * 1e3,
                "probe_p99_ms": percentile(latencies, 99) * 1e3,
                "probe_max_ms": max(latencies) * 1e3,
                "flooder_mb_per_s": received[0] / seconds / 1e6}
    finally:
        server.close()


def join_storm(clients: int = 5000) -> dict[str, Any]:
    server = Served("chat")
    try:
        started = time.monotonic()
        storm = [connect(server.port) for _ in range(clients)]
        while lobby_size(server.port) < clients:
            time.sleep(0.05)
        joined = time.monotonic() - started
        started = time.monotonic()
        with connect(server.port) as newcomer:
            newcomer.recv(4096)
        welcome = time.monotonic() - started
        for s in storm:
            s.close()
        return {"clients": clients, "all_joined_s": joined, "newcomer_welcome_ms": welcome * 1e3}
    finally:
        server.close()


def partial_lines(clients: int = 2000, size: int = 65535) -> dict[str, Any]:
    server = Served("pingpong")
    try:
        before = server.rss_mib()
        held = []
        for _ in range(clients):
            c = connect(server.port)
            try:
                c.sendall(b"x" * size)  # no newline: a partial line, just under max_line
            except OSError:
                pass
            held.append(c)
        time.sleep(1)
        peak = server.rss_mib()
        for c in held:
            c.close()
        time.sleep(2.5)  # the closes, then the trim a second after them
        return {"clients": clients, "bytes_each": size, "rss_before_mib": before,
                "rss_peak_mib": peak, "rss_after_mib": server.rss_mib()}
    finally:
        server.close()


def rows(results: dict[str, Any]) -> Iterator[str]:
    yield "| what | figures |"
    yield "| --- | --- |"
    for r in results["flooder"]:
        yield (f"| /who flooder beside a probe, {r['members']} members, {r['model']} | probe p50 "
               f"{r['probe_p50_ms']:.2f} ms, p99 {r['probe_p99_ms']:.2f} ms, max "
               f"{r['probe_max_ms']:.2f} ms; flooder served {r['flooder_mb_per_s']:.0f} MB/s |")
    j = results["join_storm"]
    yield (f"| join storm of {j['clients']:,} (epoll) | all joined in {j['all_joined_s']:.2f} s; "
           f"newcomer welcomed in {j['newcomer_welcome_ms']:.1f} ms |")
    p = results["partial_lines"]
    yield (f"| {p['clients']:,} partial lines of {p['bytes_each']:,} B (pingpong, epoll) | RSS "
           f"{p['rss_before_mib']:.1f} -> peak {p['rss_peak_mib']:.1f} -> after close "
           f"{p['rss_after_mib']:.1f} MiB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="directory for defences.{md,json}")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = {"flooder": [flooder(m) for m in ("epoll", "select", "threaded", "poll")],
               "join_storm": join_storm(), "partial_lines": partial_lines()}
    table = "\n".join(rows(results))
    print(table)
    if args.out:
        out = Path(args.out)
        (out / "defences.md").write_text(
            "# What hostile clients cost\n\n" + table +
            "\n\nCommand: `python benchmarks/defences.py --out benchmarks/results`\n")
        (out / "defences.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
