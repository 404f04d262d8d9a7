"""netlab's HttpProxy beside nginx and HAProxy, in front of the same netlab HttpServer origin.

Needs Debian's `nginx-light`, `haproxy` and `wrk` (HAProxy is left out, and said so, when it
is missing). Pinning: the proxy alone on CPU 0; the origin and the client share CPU 1. Every
comparison is interleaved: round 1 runs each proxy once, then round 2, and so on; tables give
the median of the rounds and their spread (min-max).

1. wrk (`-t1 --latency`) through each proxy to the origin's `/` at each --connections:
   requests/s, p99, errors and non-2xx.
2. Proxy CPU per request at a fixed offered rate: netlab's open-loop http scenario
   (`bench URL -R RATE -c 50`) through each proxy; utime + stime of the proxy process over
   the run (/proc/PID/stat), divided by the responses. The steady figure on a noisy machine.
3. Memory: --downloaders curl clients each download through the proxy at --download-rate
   for --download-seconds; the proxy's peak RSS (VmRSS sampled every 0.2 s) is reported.

Each proxy keeps its upstream connections alive, as many as it has clients (500 at most
here): netlab's pool (`--keepalive 1024`), nginx's `upstream { keepalive 1024; }` with
`proxy_http_version 1.1`, HAProxy's `http-reuse always` (no cap). With the default cap of 32
idle connections, nginx and netlab at 500 clients close and reopen upstream connections all
the time, and measure that instead. Access logs are off everywhere.

    PYTHONPATH=python python benchmarks/proxy.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from cbuild import netlab_env  # benchmarks/ is on sys.path

# benchmarks/http.py by path: its name would shadow the standard library's http package.
_spec = importlib.util.spec_from_file_location("bench_http", Path(__file__).with_name("http.py"))
assert _spec and _spec.loader
bench_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_http)

ROOT = Path(__file__).resolve().parents[1]
PROXY_CPU, OTHER_CPU = 0, 1
pinned, free_port = bench_http.pinned, bench_http.free_port
cpu_seconds: Callable[[int], float] = bench_http.cpu_seconds
wait_listening, spread, interleaved = (bench_http.wait_listening, bench_http.spread,
                                       bench_http.interleaved)
ENV = netlab_env()
KEEPALIVE = 1024  # idle upstream connections a proxy keeps: more than the clients


class Proc:
    """A process pinned to `cpu`, listening on `port`."""

    def __init__(self, cmd: list[str], port: int, cpu: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(pinned(cpu, cmd), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=ENV)
        wait_listening(port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def rss_mib(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_origin() -> Proc:
    port = free_port()
    return Proc([sys.executable, "-m", "netlab", "serve", "http", "--port", str(port)], port,
                OTHER_CPU)


def nginx_proxy_conf(tmp: Path, port: int, origin: int, http_extra: str = "",
                     location_extra: str = "") -> Path:
    """One nginx worker proxying 127.0.0.1:`port` to the origin with upstream keep-alive;
    `http_extra` and `location_extra` add directives (a cache, gzip)."""
    conf = tmp / f"nginx-{port}.conf"
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
  client_body_temp_path {tmp};
  proxy_temp_path {tmp};
  fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  {http_extra}
  upstream origin {{ server 127.0.0.1:{origin}; keepalive {KEEPALIVE}; keepalive_requests 100000000; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      {location_extra}
    }}
  }}
}}
""")
    return conf


def start_proxy(kind: str, origin: int, tmp: Path) -> Proc:
    port = free_port()
    if kind == "netlab":
        return Proc([sys.executable, "-m", "netlab", "serve", "http-proxy", "--port", str(port),
                     "--upstream", f"127.0.0.1:{origin}", "--keepalive", str(KEEPALIVE)],
                    port, PROXY_CPU)
    if kind == "nginx":
        conf = nginx_proxy_conf(tmp, port, origin)
        return Proc(["nginx", "-c", str(conf)], port, PROXY_CPU)
    conf = tmp / f"haproxy-{port}.cfg"
    conf.write_text(f"""
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 60s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend front
  bind 127.0.0.1:{port}
  default_backend origin
backend origin
  http-reuse always
  server s1 127.0.0.1:{origin}
""")
    return Proc(["haproxy", "-db", "-f", str(conf)], port, PROXY_CPU)


def proxy_cpu(proxy: Proc, rate: float, seconds: float, path: str = "") -> dict[str, float]:
    """netlab's open-loop http scenario at `rate` to `path` through the proxy; the proxy's CPU
    per response."""
    before = proxy.cpu()
    r: dict[str, float] = bench_http.netlab_bench(proxy.url + path.lstrip("/"), 50, seconds, rate)
    r["proxy_cpu_us"] = (proxy.cpu() - before) / max(r["responses"], 1) * 1e6
    return r


def downloads(proxy: Proc, clients: int, rate: str, seconds: float) -> dict[str, float]:
    """`clients` curl downloads at `rate` each for `seconds`; the proxy's peak RSS."""
    size = 1 << 40  # the origin streams; curl stops at --max-time
    before = proxy.rss_mib()
    curls = [subprocess.Popen(pinned(OTHER_CPU, [
        "curl", "-s", "-o", "/dev/null", "--limit-rate", rate, "--max-time", str(seconds),
        f"{proxy.url}bytes/{size}"])) for _ in range(clients)]
    peak = before
    deadline = time.monotonic() + seconds + 5
    while any(c.poll() is None for c in curls) and time.monotonic() < deadline:
        peak = max(peak, proxy.rss_mib())
        time.sleep(0.2)
    for c in curls:
        if c.poll() is None:
            c.kill()
        c.wait()
    return {"rss_before_mib": before, "rss_peak_mib": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", default="50,500")
    parser.add_argument("--rate", type=float, default=10000,
                        help="offered requests/s for the proxy-CPU comparison")
    parser.add_argument("--downloaders", type=int, default=100)
    parser.add_argument("--download-rate", default="100k", help="curl --limit-rate per client")
    parser.add_argument("--download-seconds", type=float, default=60)
    parser.add_argument("--out", default=None, help="directory for proxy.md and proxy.json")
    args = parser.parse_args()
    for tool in ("nginx", "wrk", "taskset", "curl"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install nginx-light wrk curl util-linux")
    kinds = ["netlab", "nginx"] + (["haproxy"] if shutil.which("haproxy") else [])
    results: dict[str, Any] = {"args": vars(args), "proxies": kinds}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        origin = start_origin()
        proxies = {kind: start_proxy(kind, origin.port, tmp) for kind in kinds}
        try:
            for c in [int(x) for x in args.connections.split(",")]:
                print(f"wrk through each proxy, {c} connections", flush=True)
                results[f"wrk_c{c}"] = interleaved(args.rounds, {
                    k: (lambda p=p: bench_http.wrk(p.url, c, args.seconds))
                    for k, p in proxies.items()})
            print(f"proxy CPU at {args.rate:,.0f} requests/s", flush=True)
            results["proxy_cpu"] = interleaved(args.rounds, {
                k: (lambda p=p: proxy_cpu(p, args.rate, args.seconds))
                for k, p in proxies.items()})
            print(f"{args.downloaders} downloads at {args.download_rate}/s", flush=True)
            results["memory"] = {k: [downloads(p, args.downloaders, args.download_rate,
                                               args.download_seconds)]
                                 for k, p in proxies.items()}
        finally:
            for p in proxies.values():
                p.stop()
            origin.stop()
    report = render(results, " ".join(sys.argv))
    print(report)
    if args.out:
        out = Path(args.out)
        (out / "proxy.md").write_text(report)
        (out / "proxy.json").write_text(json.dumps(results, indent=1))
    return 0


def cpu_table(title: str, rate: float, table: dict[str, list[dict[str, float]]]) -> list[str]:
    """A section of proxy_cpu runs by proxy."""
    lines = [f"## {title} per request at {rate:,.0f} requests/s offered (netlab bench -R, "
             "50 connections)", "",
             "| proxy | responses/s | proxy CPU µs/request | p99 ms |", "| --- | --- | --- | --- |"]
    for kind, runs in table.items():
        lines.append(f"| {kind} | {spread([r['rps'] for r in runs])} | "
                     f"{spread([r['proxy_cpu_us'] for r in runs])} | "
                     f"{spread([r['p99_ms'] for r in runs])} |")
    return lines


def render(results: dict[str, Any], command: str) -> str:
    missing = "" if "haproxy" in results["proxies"] else " HAProxy was not installed."
    lines = [f"# HttpProxy vs nginx and HAProxy ({datetime.date.today()})", "",
             f"`{command}` on {platform.node()} ({os.cpu_count()} CPUs). The proxy alone on "
             f"CPU {PROXY_CPU}; the origin (netlab HttpServer) and the client on CPU "
             f"{OTHER_CPU}. Median of the rounds (min-max).{missing}", ""]
    for key, table in results.items():
        if key.startswith("wrk_c"):
            lines += bench_http.wrk_table(f"wrk -t1 -c{key[5:]} through the proxy to `/`",
                                          "proxy", table)
    lines += cpu_table("Proxy CPU", results["args"]["rate"], results["proxy_cpu"])
    a = results["args"]
    lines += ["", f"## Memory: {a['downloaders']} clients downloading at {a['download_rate']}/s "
              f"each for {a['download_seconds']:.0f} s", "",
              "| proxy | RSS before MiB | peak RSS MiB |", "| --- | --- | --- |"]
    for kind, runs in results["memory"].items():
        lines.append(f"| {kind} | {runs[0]['rss_before_mib']:.1f} | {runs[0]['rss_peak_mib']:.1f} |")
    lines += ["", "netlab's RSS includes the Python interpreter that runs `python -m netlab serve`."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
