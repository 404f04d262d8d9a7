"""Server memory per idle connection, for two netlab builds side by side.

An echo server (epoll) gets N connections that each send one line, read its echo and then
stay idle (with --app http, an HttpServer whose connections each make one keep-alive
`GET /` and read the whole response); the server's resident memory (VmRSS) grows by about
N times what an idle connection costs. A deterministic figure, unlike CPU time on a shared
machine. Builds are directories put first on PYTHONPATH, as in server_cpu_ab.py:

    git worktree add build/base-src HEAD~1
    pip install --no-build-isolation --target build/base-py build/base-src
    pip install --no-build-isolation --target build/head-py .
    python benchmarks/idle_memory_ab.py --a build/base-py --a-label before \
        --b build/head-py --b-label after
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cbuild import run_command  # benchmarks/ is on sys.path

# Connections opened before the baseline. Start-up leaves up to a MiB of freed heap resident,
# which the first connections fill without touching new pages: after 200, 5,000 connections
# measured 815 bytes each where the allocator had handed out 1,008.
WARM_UP = 2000


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        match = re.search(r"VmRSS:\s+(\d+)", f.read())
    assert match
    return int(match.group(1))


def exchange_echo(s: socket.socket) -> None:
    s.sendall(b"hello\n")
    if s.recv(100) != b"hello\n":
        raise RuntimeError("the echo server answered something else")


def receive(s: socket.socket) -> bytes:
    data = s.recv(4096)
    if not data:
        raise RuntimeError("the server closed the connection before its response was whole")
    return data


def exchange_http(s: socket.socket) -> None:
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        got += receive(s)
    head, _, body = got.partition(b"\r\n\r\n")
    match = re.search(rb"\r\nContent-Length: (\d+)", head, re.IGNORECASE)
    if not head.startswith(b"HTTP/1.1 200") or not match:
        raise RuntimeError(f"HttpServer answered something else: {head[:80]!r}")
    while len(body) < int(match.group(1)):
        body += receive(s)


EXCHANGES = {"echo": exchange_echo, "http": exchange_http}
WHAT = {"echo": "sent one line and read its echo",
        "http": "made one keep-alive GET / and read the response"}


def open_idle(port: int, count: int, app: str) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        EXCHANGES[app](s)
        socks.append(s)
    return socks


def bytes_per_connection(pythonpath: str, connections: int, app: str) -> float:
    env = dict(os.environ, PYTHONPATH=pythonpath)
    proc = subprocess.Popen(
        [sys.executable, "-m", "netlab", "serve", app, "--port", "0", "--model", "epoll",
         "--max-connections", str(connections + WARM_UP + 100)],
        stdout=subprocess.PIPE, text=True, env=env)
    socks: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        match = re.search(r"listening on [\d.]+:(\d+)", proc.stdout.readline())
        if not match:
            raise RuntimeError(f"the {app} server did not start")
        port = int(match.group(1))
        socks += open_idle(port, WARM_UP, app)
        time.sleep(0.3)
        before = rss_kib(proc.pid)
        socks += open_idle(port, connections, app)
        time.sleep(0.5)
        return (rss_kib(proc.pid) - before) * 1024 / connections
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="PYTHONPATH of build A")
    parser.add_argument("--b", required=True, help="PYTHONPATH of build B")
    parser.add_argument("--a-label", default="A")
    parser.add_argument("--b-label", default="B")
    parser.add_argument("--app", choices=sorted(EXCHANGES), default="echo")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None, help="directory for idle_memory_ab.{md,json}")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + WARM_UP + 100
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))

    builds = [(args.a_label, args.a), (args.b_label, args.b)]
    results: dict[str, list[float]] = {label: [] for label, _ in builds}
    for r in range(args.rounds):
        for label, path in builds:
            per = bytes_per_connection(path, args.connections, args.app)
            results[label].append(per)
            print(f"round {r + 1} {label}: {per:,.0f} bytes per idle connection", flush=True)

    command = run_command()
    lines = [f"Command: `{command}`", "",
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "# Server memory per idle connection, before vs after", "",
             f"{args.app} (epoll): {args.connections:,} connections, each "
             f"{WHAT[args.app]}, then idle; growth of the server's VmRSS over a baseline "
             f"taken after {WARM_UP} such connections; {args.rounds} rounds interleaved.", "",
             "| build | bytes per idle connection (median, min, max) |", "| --- | --- |"]
    for label, _ in builds:
        v = results[label]
        lines.append(f"| {label} | {statistics.median(v):,.0f} (min {min(v):,.0f}, "
                     f"max {max(v):,.0f}) |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "idle_memory_ab.md").write_text(text)
        (out / "idle_memory_ab.json").write_text(json.dumps(
            {"command": command, "app": args.app, "connections": args.connections,
             "results": results}, indent=1))


if __name__ == "__main__":
    main()
