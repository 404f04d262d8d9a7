"""netlab's HttpServer beside nginx, and netlab's http load scenario beside wrk, in one run.

Needs Debian's `nginx-light` and `wrk` (`apt-get install nginx-light wrk`). Servers run on
CPU 0, clients on CPU 1 (`taskset`). Every comparison is interleaved: round 1 runs each
contender once, then round 2, and so on; the tables give the median of the rounds and their
spread (min-max).

1. Servers: wrk (`-t1 --latency`) against HttpServer `/` and against nginx (1 worker,
   access log off, `return 200` of the same 117-byte body, keepalive_requests raised so
   neither side closes connections), at each --connections: requests/s and p99.
2. Server CPU per request at a fixed offered rate: netlab's open-loop http scenario
   (`bench URL -R RATE`) against each server; utime + stime of the server process over the
   run (/proc/PID/stat), divided by the responses.
3. Clients: netlab's http scenario and wrk, each on CPU 1, driving the same nginx on CPU 0
   at saturation (wrk cannot fix a rate): responses/s and client CPU per response
   (getrusage of the finished child: user + system).
4. Locust: locust/http.py with netlab's FastHttpUser and with Locust's own, one Locust
   process each, against HttpServer: requests/s and Locust's CPU per request.

    PYTHONPATH=python python benchmarks/http.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable, Optional

from cbuild import netlab_env  # benchmarks/ is on sys.path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVER_CPU, CLIENT_CPU = 0, 1


def pinned(cpu: Optional[int], cmd: list[str]) -> list[str]:
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 10) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@lru_cache(maxsize=None)
def root_body() -> str:
    """What HttpServer answers on `/`, asked of it rather than copied here: nginx must answer
    the same bytes, and the text grows with HttpServer's routes."""
    import socket

    import netlab
    with netlab.HttpServer(0) as server:
        # A raw exchange: this file's name hides the standard library's http package.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reply = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = reply.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError(f"HttpServer answered / with {head[:40]!r}")
    return body.decode()


def nginx_conf(tmp: Path, port: int) -> Path:
    """nginx's configuration here: one process (its CPU is all there is), access log off,
    `return 200` of HttpServer's own `/` text, keep-alive never ended by nginx."""
    conf = tmp / f"nginx-{port}.conf"
    body = root_body().replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    conf.write_text(f"""
worker_processes 1;
daemon off;
master_process off;
pid {tmp}/nginx-{port}.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path {tmp};
  proxy_temp_path {tmp};
  fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type text/plain; return 200 "{body}"; }}
  }}
}}
""")
    return conf


class Server:
    """One server process on CPU 0: netlab's HttpServer or nginx."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind, self.port = kind, free_port()
        if kind == "netlab":
            cmd = [sys.executable, "-m", "netlab", "serve", "http", "--port", str(self.port)]
            self.proc = subprocess.Popen(pinned(SERVER_CPU, cmd), stdout=subprocess.DEVNULL,
                                         env=netlab_env())
            self.pid = self.proc.pid
        else:
            conf = nginx_conf(tmp, self.port)
            # master_process off: one process does the serving, so its CPU is all there is.
            self.proc = subprocess.Popen(pinned(SERVER_CPU, ["nginx", "-c", str(conf)]),
                                         stderr=subprocess.DEVNULL)
            self.pid = self.proc.pid
        wait_listening(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wrk(url: str, connections: int, seconds: float,
        headers: tuple[str, ...] = ()) -> dict[str, float]:
    before = children_cpu()
    extra = [arg for h in headers for arg in ("-H", h)]
    run = subprocess.run(pinned(CLIENT_CPU, ["wrk", "-t1", f"-c{connections}",
                                             f"-d{round(seconds)}s", "--latency", *extra, url]),
                         capture_output=True, text=True, timeout=seconds + 60)
    cpu = children_cpu() - before
    out = run.stdout
    done = re.search(r"(\d+) requests in", out)
    per_s = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not done or not per_s:
        raise RuntimeError(f"wrk failed: {run.stderr.strip() or out}")
    requests = int(done.group(1))
    rate = float(per_s.group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)] if p99 else 0
    return {"rps": rate, "p99_ms": float(p99.group(1)) * scale if p99 else float("nan"),
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
            "client_cpu_us": cpu / max(requests, 1) * 1e6, "responses": requests}


def server_under_wrk(server: "Server", connections: int, seconds: float) -> dict[str, float]:
    """A wrk run, with how busy each side's CPU was: a side near 100% is the bottleneck,
    and when it is wrk, the servers' requests/s tie whatever their speed."""
    before, start = server.cpu(), time.monotonic()
    result = wrk(server.url, connections, seconds)
    wall = time.monotonic() - start
    result["server_busy"] = (server.cpu() - before) / wall
    result["client_busy"] = result["client_cpu_us"] * result["responses"] / 1e6 / wall
    return result


def netlab_bench(url: str, connections: int, seconds: float,
                 rate: Optional[float] = None) -> dict[str, float]:
    cmd = [sys.executable, "-m", "netlab", "bench", url, "-c", str(connections), "-t", "1",
           "-d", str(seconds), "--json"] + (["-R", str(rate)] if rate else [])
    before = children_cpu()
    run = subprocess.run(pinned(CLIENT_CPU, cmd), capture_output=True, text=True,
                         timeout=seconds + 60, env=netlab_env())
    cpu = children_cpu() - before
    doc = json.loads(run.stdout)
    return {"rps": doc["responses"] / doc["duration"], "p99_ms": doc["latency_ms"]["p99"],
            "errors": doc["errors"] + doc["non_2xx"], "responses": doc["responses"],
            "client_cpu_us": doc["cpu_seconds"] / max(doc["responses"], 1) * 1e6,
            "process_cpu_us": cpu / max(doc["responses"], 1) * 1e6}


def locust_run(url: str, client: str, users: int, seconds: int, tmp: Path) -> dict[str, float]:
    prefix = tmp / f"locust-{client}"
    env = netlab_env(NETLAB_HTTP_CLIENT=client, NETLAB_WAIT="0")
    before = children_cpu()
    subprocess.run(pinned(CLIENT_CPU, [sys.executable, "-m", "locust", "-f",
                                       str(ROOT / "locust" / "http.py"), "--headless", "-u",
                                       str(users), "-r", str(users), "-t", f"{seconds}s",
                                       "--host", url.rstrip("/"), "--csv", str(prefix),
                                       "--only-summary"]),
                   capture_output=True, text=True, timeout=seconds + 90, env=env)
    cpu = children_cpu() - before
    with open(f"{prefix}_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    n = int(row["Request Count"])
    return {"rps": float(row["Requests/s"]), "failures": int(row["Failure Count"]),
            "locust_cpu_us": cpu / max(n, 1) * 1e6, "requests": n}


def spread(values: list[float]) -> str:
    return (f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"
            if values else "n/a")


def interleaved(rounds: int, contenders: dict[str, Callable[[], dict[str, float]]]
                ) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    for r in range(rounds):
        for name, run in contenders.items():
            out[name].append(run())
            print(f"  round {r + 1} {name}: {out[name][-1]}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", default="50,500")
    parser.add_argument("--rate", type=float, default=20000,
                        help="offered requests/s for the server-CPU comparison")
    parser.add_argument("--locust-users", type=int, default=50)
    parser.add_argument("--locust-seconds", type=int, default=10)
    parser.add_argument("--out", default=None, help="directory for http.md and http.json")
    args = parser.parse_args()
    for tool in ("nginx", "wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install nginx-light wrk util-linux")
    # The Locust part runs last: without this check a run would fail after all the others.
    if subprocess.run([sys.executable, "-m", "locust", "--version"],
                      capture_output=True).returncode != 0:
        sys.exit(f"Locust is missing from {sys.executable}: pip install '.[locust]'")
    results: dict[str, Any] = {"args": vars(args)}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        servers = {kind: Server(kind, tmp) for kind in ("netlab", "nginx")}
        try:
            for c in [int(x) for x in args.connections.split(",")]:
                print(f"servers under wrk, {c} connections", flush=True)
                results[f"servers_c{c}"] = interleaved(args.rounds, {
                    kind: partial(server_under_wrk, s, c, args.seconds)
                    for kind, s in servers.items()})

            def server_cpu(s: Server) -> dict[str, float]:
                before = s.cpu()
                r = netlab_bench(s.url, 50, args.seconds, args.rate)
                r["server_cpu_us"] = (s.cpu() - before) / max(r["responses"], 1) * 1e6
                return r

            print(f"server CPU at {args.rate:,.0f} requests/s", flush=True)
            results["server_cpu"] = interleaved(args.rounds, {
                kind: partial(server_cpu, s) for kind, s in servers.items()})
            nginx = servers["nginx"]
            print("clients against nginx at saturation", flush=True)
            results["clients"] = interleaved(args.rounds, {
                "netlab bench": lambda: netlab_bench(nginx.url, 50, args.seconds),
                "wrk": lambda: wrk(nginx.url, 50, args.seconds)})
            netlab_server = servers["netlab"]
            print("Locust against HttpServer", flush=True)
            results["locust"] = interleaved(max(1, args.rounds // 2 + 1), {
                client: partial(locust_run, netlab_server.url, client, args.locust_users,
                                args.locust_seconds, tmp)
                for client in ("netlab", "locust")})
        finally:
            for s in servers.values():
                s.stop()
    report = render(results, " ".join(sys.argv))
    print(report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "http.md").write_text(report)
        (out / "http.json").write_text(json.dumps(results, indent=1))
    return 0


def wrk_table(title: str, who: str, table: dict[str, list[dict[str, float]]]) -> list[str]:
    """A section of wrk runs: requests/s, p99 and errors by contender."""
    busy = all("server_busy" in r for runs in table.values() for r in runs)
    lines = [f"## {title}", "", f"| {who} | requests/s | p99 ms | errors + non-2xx |"
             + (" server CPU busy | wrk CPU busy |" if busy else ""),
             "| --- | --- | --- | --- |" + (" --- | --- |" if busy else "")]
    for kind, runs in table.items():
        row = (f"| {kind} | {spread([r['rps'] for r in runs])} | "
               f"{spread([r['p99_ms'] for r in runs])} | "
               f"{sum(r['errors'] for r in runs)} |")
        if busy:
            row += (f" {spread([100 * r['server_busy'] for r in runs])}% |"
                    f" {spread([100 * r['client_busy'] for r in runs])}% |")
        lines.append(row)
    return lines + [""]


def render(results: dict[str, Any], command: str) -> str:
    lines = [f"# HttpServer vs nginx, netlab's http scenario vs wrk ({datetime.date.today()})", "",
             f"`{command}` on {platform.node()} ({os.cpu_count()} CPUs), server on CPU "
             f"{SERVER_CPU}, client on CPU {CLIENT_CPU}. Median of the rounds (min-max).", ""]
    busy = False
    for key, table in results.items():
        if key.startswith("servers_c"):
            lines += wrk_table(f"wrk -t1 -c{key[9:]} against `/`", "server", table)
            busy = busy or any("server_busy" in r for runs in table.values() for r in runs)
    if busy:
        lines += ["CPU busy: the process's CPU time over the run's wall time (/proc and "
                  "getrusage). The side nearer 100% limits requests/s; when it is wrk, the "
                  "servers' requests/s say little and their CPU per request (below) tells them "
                  "apart.", ""]
    lines += ["## Server CPU per request at a fixed offered rate (netlab bench -R, 50 connections)",
              "", "| server | responses/s | server CPU µs/request | p99 ms |",
              "| --- | --- | --- | --- |"]
    for kind, runs in results["server_cpu"].items():
        lines.append(f"| {kind} | {spread([r['rps'] for r in runs])} | "
                     f"{spread([r['server_cpu_us'] for r in runs])} | "
                     f"{spread([r['p99_ms'] for r in runs])} |")
    lines += ["", "## Clients against the same nginx at saturation (50 connections, 1 thread)", "",
              "| client | responses/s | client CPU µs/response | p99 ms |",
              "| --- | --- | --- | --- |"]
    for kind, runs in results["clients"].items():
        cpu = spread([r["client_cpu_us"] for r in runs])
        if kind == "netlab bench":
            cpu += " engine; " + spread([r["process_cpu_us"] for r in runs]) + " whole process"
        lines.append(f"| {kind} | {spread([r['rps'] for r in runs])} | {cpu} | "
                     f"{spread([r['p99_ms'] for r in runs])} |")
    lines += ["", "wrk's CPU and netlab bench's whole-process CPU come from getrusage of the "
              "finished child (the whole process: netlab's includes Python's start-up and the "
              "summary); netlab's engine CPU is its load threads' own.", "",
              "## Locust (locust/http.py, one process, NETLAB_WAIT=0) against HttpServer", "",
              "| Locust HTTP user | requests/s | failures | Locust CPU µs/request |",
              "| --- | --- | --- | --- |"]
    for kind, runs in results["locust"].items():
        name = "netlab.locust.FastHttpUser" if kind == "netlab" else "locust.FastHttpUser"
        lines.append(f"| {name} | {spread([r['rps'] for r in runs])} | "
                     f"{sum(r['failures'] for r in runs)} | "
                     f"{spread([r['locust_cpu_us'] for r in runs])} |")
    return "\n".join(lines + [""] + targets(results)) + "\n"


TARGETS_NOTE = ("The verdict is the issue's: the ratio of the two medians. Beside it, the median "
                "of the round-by-round ratios (each netlab round against the nginx or wrk round "
                "run just after it), steadier when the machine has fast and slow spells.")


def targets(results: dict[str, Any]) -> list[str]:
    """Issue 15's speed targets, judged from the rounds above (TARGETS_NOTE)."""
    rows: list[str] = []

    def add(target: str, ours: list[dict[str, float]], ref: list[dict[str, float]], key: str,
            ref_key: str, limit: float, at_least: bool) -> None:
        ratio = (statistics.median(r[key] for r in ours)
                 / statistics.median(r[ref_key] for r in ref))
        pair = statistics.median(x[key] / y[ref_key] for x, y in zip(ours, ref))
        met = ratio >= limit if at_least else ratio <= limit
        rows.append(f"| {target} | {ratio:.3f}x | {pair:.3f}x | "
                    f"{'met' if met else '**missed**'} |")

    for key, table in results.items():
        if key.startswith("servers_c"):
            n, ours, ref = key[9:], table["netlab"], table["nginx"]
            add(f"requests/s >= 1.0x nginx's ({n} connections)", ours, ref, "rps", "rps", 1.0,
                True)
            add(f"p99 <= 1.2x nginx's ({n} connections)", ours, ref, "p99_ms", "p99_ms", 1.2,
                False)
    cpu = results["server_cpu"]
    add("server CPU per request at a fixed rate <= 1.0x nginx's", cpu["netlab"], cpu["nginx"],
        "server_cpu_us", "server_cpu_us", 1.0, False)
    clients = results["clients"]
    add("http scenario responses/s >= 0.95x wrk's", clients["netlab bench"], clients["wrk"],
        "rps", "rps", 0.95, True)
    # The whole process on both sides: wrk's CPU is its process's.
    add("http scenario CPU per response <= 1.0x wrk's", clients["netlab bench"], clients["wrk"],
        "process_cpu_us", "client_cpu_us", 1.0, False)
    return ["## Targets (issue 15)", "", TARGETS_NOTE, "",
            "| target | ratio of medians | paired rounds | |", "| --- | --- | --- | --- |", *rows]


if __name__ == "__main__":
    sys.exit(main())
