"""HttpProxy's cache and gzip beside nginx's proxy_cache and gzip, in front of the same
netlab HttpServer origin (issue 17).

Pinning as in benchmarks/proxy.py: the proxy alone on CPU 0; the origin and wrk share CPU 1.
Rounds are interleaved (each proxy once per round); tables give the median and the spread.

1. Cache hits: wrk (`-t1 -c50 --latency`) through each proxy to the origin's `/cache/3600`
   (Cache-Control: public, max-age=3600), warmed first so every request is a hit: requests/s,
   p99; then proxy CPU per request at a fixed offered rate (netlab's open-loop http scenario).
   netlab serves hits from its memory; nginx from cache files in a tmpfs directory (/dev/shm
   when there is one), so from the page cache: neither touches a disk.
2. gzip of a JSON body of about 1 MiB (the origin's `/stream/N`, chunked, N chosen per
   proxy so that its body is about 1 MiB there): wrk with
   `Accept-Encoding: gzip` at 8 connections, both proxies at level 1 (nginx's default
   gzip_comp_level, netlab's default gzip_level); MiB/s of uncompressed body through the
   proxy, and proxy CPU milliseconds per MiB. The cache is off for this part.

    PYTHONPATH=python python benchmarks/proxy_cache.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

_spec = importlib.util.spec_from_file_location("bench_proxy", Path(__file__).with_name("proxy.py"))
assert _spec and _spec.loader
bench_proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_proxy)
bench_http = bench_proxy.bench_http
if TYPE_CHECKING:
    from proxy import Proc  # bench_proxy's class, for mypy, which cannot see into bench_proxy
else:
    Proc = bench_proxy.Proc
spread, interleaved = bench_proxy.spread, bench_proxy.interleaved
PROXY_CPU, KEEPALIVE = bench_proxy.PROXY_CPU, bench_proxy.KEEPALIVE
CACHE_PATH = "/cache/3600"
GZIP_HEADER = ("Accept-Encoding: gzip",)


def start_netlab(origin: int, *flags: str) -> Proc:
    port = bench_proxy.free_port()
    return Proc([sys.executable, "-m", "netlab", "serve", "http-proxy", "--port", str(port),
                 "--upstream", f"127.0.0.1:{origin}", "--keepalive", str(KEEPALIVE), *flags],
                port, PROXY_CPU)


def start_nginx(origin: int, tmp: Path, cache_dir: Path, gzip: bool) -> Proc:
    port = bench_proxy.free_port()
    if gzip:
        conf = bench_proxy.nginx_proxy_conf(tmp, port, origin, location_extra=(
            "gzip on; gzip_comp_level 1; gzip_types application/json; gzip_proxied any;"))
    else:
        conf = bench_proxy.nginx_proxy_conf(
            tmp, port, origin,
            http_extra=f"proxy_cache_path {cache_dir} levels=1:2 keys_zone=hot:10m max_size=256m;",
            location_extra="proxy_cache hot;")
    return Proc(["nginx", "-c", str(conf)], port, PROXY_CPU)


def gzip_run(proxy: Proc, path: str, body_mib: float, seconds: float) -> dict[str, float]:
    before = proxy.cpu()
    r: dict[str, float] = bench_http.wrk(proxy.url + path[1:], 8, seconds, GZIP_HEADER)
    cpu = proxy.cpu() - before
    mib = r["responses"] * body_mib
    r["mib_per_s"] = mib / seconds
    r["proxy_cpu_ms_per_mib"] = cpu / max(mib, 1e-9) * 1e3
    return r


def body_size(url: str) -> int:
    """The body's length as wrk's request gets it, decompressed: the origin's /stream lines
    describe the request, and each proxy adds its own fields to it (netlab's X-Forwarded-*
    and Via make its bodies about 1.7 times nginx's), so each proxy's MiB are its own. By
    curl, as benchmarks/http.py shadows the http package here."""
    run = subprocess.run(["curl", "-sS", "-H", "Accept-Encoding: gzip", "-H", "User-Agent:",
                          "-H", "Accept:", url], capture_output=True, timeout=60, check=True)
    body = run.stdout
    return len(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rate", type=float, default=10000,
                        help="offered requests/s for the cache-hit CPU comparison")
    parser.add_argument("--out", default=None, help="directory for proxy_cache.md and .json")
    args = parser.parse_args()
    for tool in ("nginx", "wrk", "taskset", "curl"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install nginx-light wrk util-linux curl")
    results: dict[str, Any] = {"args": vars(args)}
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory() as tmpdir, \
            tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as cachedir:
        tmp = Path(tmpdir)
        origin = bench_proxy.start_origin()
        procs: list[Proc] = [origin]
        try:
            caches = {"netlab": start_netlab(origin.port, "--cache-size", str(64 << 20)),
                      "nginx": start_nginx(origin.port, tmp, Path(cachedir), gzip=False)}
            procs += caches.values()
            for p in caches.values():  # warm: the first request fills each cache
                body_size(p.url + CACHE_PATH[1:])
            print("cache hits, wrk -c50", flush=True)
            results["hits_wrk"] = interleaved(args.rounds, {
                k: (lambda p=p: bench_http.wrk(p.url + CACHE_PATH[1:], 50, args.seconds))
                for k, p in caches.items()})
            print(f"cache hits, proxy CPU at {args.rate:,.0f}/s", flush=True)
            results["hits_cpu"] = interleaved(args.rounds, {
                k: (lambda p=p: bench_proxy.proxy_cpu(p, args.rate, args.seconds, CACHE_PATH))
                for k, p in caches.items()})
            for p in caches.values():
                p.stop()
            procs = [origin]
            gzips = {"netlab": start_netlab(origin.port, "--gzip", "--gzip-level", "1"),
                     "nginx": start_nginx(origin.port, tmp, Path(cachedir), gzip=True)}
            procs += gzips.values()
            # As many lines through each proxy as make about 1 MiB there.
            paths = {k: "/stream/%d" % round(100 * (1 << 20) / body_size(p.url + "stream/100"))
                     for k, p in gzips.items()}
            sizes = {k: body_size(p.url + paths[k][1:]) for k, p in gzips.items()}
            results["gzip_paths"], results["gzip_body_bytes"] = paths, sizes
            print(f"gzip of {sizes} bytes", flush=True)
            results["gzip"] = interleaved(args.rounds, {
                k: (lambda p=p, k=k: gzip_run(p, paths[k], sizes[k] / (1 << 20), args.seconds))
                for k, p in gzips.items()})
        finally:
            for p in procs:
                p.stop()
    report = render(results, " ".join(sys.argv))
    print(report)
    if args.out:
        out = Path(args.out)
        (out / "proxy_cache.md").write_text(report)
        (out / "proxy_cache.json").write_text(json.dumps(results, indent=1))
    return 0


def render(results: dict[str, Any], command: str) -> str:
    a = results["args"]
    lines = [f"# HttpProxy's cache and gzip vs nginx ({datetime.date.today()})", "",
             f"`{command}` on {platform.node()} ({os.cpu_count()} CPUs). The proxy alone on "
             f"CPU {PROXY_CPU}; the origin (netlab HttpServer) and the client on the other. "
             "Median of the rounds (min-max). netlab's cache is in its memory; nginx's "
             "proxy_cache files are in a tmpfs directory, so both serve hits from RAM.", ""]
    lines += bench_http.wrk_table(f"Cache hits: wrk -t1 -c50 to `{CACHE_PATH}`", "proxy",
                                  results["hits_wrk"])
    lines += bench_proxy.cpu_table("Cache hits: proxy CPU", a["rate"], results["hits_cpu"])
    sizes = results["gzip_body_bytes"]
    paths = results["gzip_paths"]
    lines += ["", "## gzip level 1 of a JSON body of about 1 MiB (the origin's `/stream/N`, "
              "chunked), wrk -t1 -c8 with Accept-Encoding: gzip", "",
              "The origin's lines describe the request as it reached the origin, and netlab "
              "adds X-Forwarded-* and Via to it, so each proxy is asked for as many lines as "
              "make about 1 MiB through it; MiB are of its own uncompressed body.", "",
              "| proxy | path | body MiB | MiB/s of body | proxy CPU ms/MiB | requests/s | "
              "errors + non-2xx |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for kind, runs in results["gzip"].items():
        lines.append(f"| {kind} | `{paths[kind]}` | {sizes[kind] / (1 << 20):.2f} | "
                     f"{spread([r['mib_per_s'] for r in runs])} | "
                     f"{spread([r['proxy_cpu_ms_per_mib'] for r in runs])} | "
                     f"{spread([r['rps'] for r in runs])} | "
                     f"{sum(int(r['errors']) for r in runs)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
