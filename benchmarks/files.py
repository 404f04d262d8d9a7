"""netlab's FileServer beside nginx (`sendfile on`), serving the same files from one directory.

Needs Debian's `nginx-light`, `curl` and `nc` (netcat-openbsd). Pinning: the server alone on
CPU 0, the clients on CPU 1. The files are made once in --dir (default: a temporary
directory) and read once before the first round, so every round serves them from the page
cache, as a busy file server would. Every comparison is interleaved: round 1 runs each
contender once, then round 2, and so on; tables give the median of the rounds and their
spread (min-max).

1. One --size download (2 GiB) with one client: `curl -o /dev/null` from nginx and from
   netlab's HTTP side; `nc` speaking netlab's line protocol (`DOWNLOAD name 0`) to
   /dev/null; and netlab.FileClient, which also hashes what it receives and writes it to a
   file (a different job: its row is for reference). MiB/s, and the server's CPU seconds
   per GiB (utime + stime of its process over the transfer, /proc/PID/stat).
2. Memory: the server's peak RSS (VmRSS every 0.1 s) during one --big download (4 GiB).
3. Fairness: --clients (100) curl downloads of one --each (100 MiB) file at once;
   aggregate MiB/s and the slowest client's time over the fastest's.

    PYTHONPATH=python python benchmarks/files.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from cbuild import netlab_env, run_command  # benchmarks/ is on sys.path

# benchmarks/http.py by path: its name would shadow the standard library's http package.
_spec = importlib.util.spec_from_file_location("bench_http", Path(__file__).with_name("http.py"))
assert _spec and _spec.loader
bench_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_http)

_spec = importlib.util.spec_from_file_location("bench_proxy", Path(__file__).with_name("proxy.py"))
assert _spec and _spec.loader
bench_proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_proxy)
if TYPE_CHECKING:
    from proxy import Proc  # bench_proxy's class, for mypy, which cannot see into bench_proxy
else:
    Proc = bench_proxy.Proc

ROOT = Path(__file__).resolve().parents[1]
SERVER_CPU, CLIENT_CPU = 0, 1
pinned, cpu_seconds, free_port = bench_http.pinned, bench_http.cpu_seconds, bench_http.free_port
wait_listening, interleaved = bench_http.wait_listening, bench_http.interleaved
spread: Callable[[list[float]], str] = bench_http.spread
ENV = netlab_env()
GIB, MIB = 1 << 30, 1 << 20


def start_server(kind: str, root: Path, tmp: Path) -> Proc:
    """nginx or netlab's FileServer over `root`, alone on SERVER_CPU."""
    port = free_port()
    if kind == "nginx":
        cmd = ["nginx", "-c", str(nginx_conf(tmp, port, root))]
    else:
        cmd = [sys.executable, "-m", "netlab", "serve", "files", "--port", str(port),
               "--root", str(root)]
    return Proc(cmd, port, SERVER_CPU)


def url(server: Proc, name: str) -> str:
    return server.url + name


def nginx_conf(tmp: Path, port: int, root: Path) -> Path:
    """One nginx worker serving `root` with sendfile, as a static file server is set up."""
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
  sendfile on;
  tcp_nopush on;
  client_body_temp_path {tmp};
  proxy_temp_path {tmp};
  fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
""")
    return conf


def make_file(path: Path, size: int) -> None:
    """`size` bytes of a repeated 1 MiB random block (made once, kept between runs)."""
    if path.exists() and path.stat().st_size == size:
        return
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(block)
        f.write(block[: size % MIB])


def warm(path: Path) -> None:
    """Reads the file once so every round finds it in the page cache."""
    with open(path, "rb") as f:
        while f.read(16 * MIB):
            pass


def timed(server: Proc, run: Callable[[], None], size: int) -> dict[str, float]:
    cpu0, t0 = server.cpu(), time.monotonic()
    run()
    seconds = time.monotonic() - t0
    return {"mib_s": size / MIB / seconds, "cpu_s_per_gib": (server.cpu() - cpu0) / (size / GIB)}


def curl_download(server: Proc, name: str) -> None:
    subprocess.run(pinned(CLIENT_CPU, ["curl", "-sS", "-o", os.devnull, url(server, name)]),
                   check=True)


def nc_download(server: Proc, name: str) -> None:
    with open(os.devnull, "wb") as sink:
        subprocess.run(pinned(CLIENT_CPU, ["nc", "-N", "127.0.0.1", str(server.port)]),
                       input=f"DOWNLOAD {name} 0\n".encode(), stdout=sink, check=True)


def fileclient_download(server: Proc, name: str, dest: Path) -> None:
    code = ("import netlab, sys; netlab.FileClient('127.0.0.1', int(sys.argv[1]), timeout=60)"
            ".download(sys.argv[2], sys.argv[3], resume=False)")
    subprocess.run(pinned(CLIENT_CPU, [sys.executable, "-c", code, str(server.port), name,
                                       str(dest)]), check=True, env=ENV)
    dest.unlink()


def peak_rss(server: Proc, run: Callable[[], None]) -> float:
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_mib())
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        run()
    finally:
        done.set()
        sampler.join()
    return peak[0]


def fairness(server: Proc, name: str, clients: int, size: int) -> dict[str, float]:
    cmd = ["curl", "-sS", "-o", os.devnull, "-w", "%{time_total}", url(server, name)]
    t0 = time.monotonic()
    procs = [subprocess.Popen(pinned(CLIENT_CPU, cmd), stdout=subprocess.PIPE)
             for _ in range(clients)]
    times = [float(p.communicate()[0]) for p in procs]
    wall = time.monotonic() - t0
    return {"aggregate_mib_s": clients * size / MIB / wall,
            "slowest_over_fastest": max(times) / min(times),
            "median_s": statistics.median(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=2 * GIB, help="bytes of section 1's file")
    parser.add_argument("--big", type=int, default=4 * GIB, help="bytes of section 2's file")
    parser.add_argument("--each", type=int, default=100 * MIB, help="bytes of section 3's file")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=None, help="where the files are made")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for tool in ("nginx", "curl", "nc", "taskset"):
        if not shutil.which(tool):
            print(f"{tool} is required", file=sys.stderr)
            return 1
    tmp = Path(tempfile.mkdtemp(prefix="netlab-files-"))
    root = args.dir or tmp / "root"
    root.mkdir(parents=True, exist_ok=True)
    files = {"one.bin": args.size, "big.bin": args.big, "each.bin": args.each}
    for name, size in files.items():
        make_file(root / name, size)
        warm(root / name)
    servers = {kind: start_server(kind, root, tmp) for kind in ("nginx", "netlab")}
    results: dict[str, Any] = {}
    try:
        nginx, netlab_ = servers["nginx"], servers["netlab"]
        print(f"1. one {args.size / GIB:g} GiB download, {args.rounds} rounds", flush=True)
        results["single"] = interleaved(args.rounds, {
            "nginx (curl)": lambda: timed(nginx, lambda: curl_download(nginx, "one.bin"),
                                          args.size),
            "netlab HTTP (curl)": lambda: timed(netlab_,
                                                lambda: curl_download(netlab_, "one.bin"),
                                                args.size),
            "netlab line protocol (nc)": lambda: timed(netlab_,
                                                       lambda: nc_download(netlab_, "one.bin"),
                                                       args.size),
            "netlab line protocol (FileClient, to a file)": lambda: timed(
                netlab_, lambda: fileclient_download(netlab_, "one.bin", tmp / "dl.bin"),
                args.size),
        })
        print(f"2. peak RSS during one {args.big / GIB:g} GiB download", flush=True)
        results["rss"] = interleaved(min(args.rounds, 3), {
            kind: (lambda s=s: {"peak_rss_mib": peak_rss(s, lambda: curl_download(s, "big.bin"))})
            for kind, s in servers.items()})
        print(f"3. {args.clients} downloads of {args.each / MIB:g} MiB at once", flush=True)
        results["fairness"] = interleaved(min(args.rounds, 3), {
            kind: (lambda s=s: fairness(s, "each.bin", args.clients, args.each))
            for kind, s in servers.items()})
    finally:
        for s in servers.values():
            s.stop()
        if args.dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    results["meta"] = {
        "date": datetime.date.today().isoformat(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "kernel": platform.release(),
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
        "rounds": args.rounds, "size": args.size, "big": args.big, "each": args.each,
        "clients": args.clients}
    command = run_command()
    report = render(results, command.strip())
    print(report)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "files.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / "files.md").write_text(report)
    return 0


def column(rounds: list[dict[str, float]], key: str) -> str:
    return spread([r[key] for r in rounds])


def fine(rounds: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in rounds]
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"



def render(results: dict[str, Any], command: str) -> str:
    meta = results["meta"]
    single = results["single"]
    nginx_rate = statistics.median(r["mib_s"] for r in single["nginx (curl)"])
    lines = [
        "# FileServer beside nginx (sendfile on)", "",
        f"{meta['date']}, {meta['machine']}, {meta['cpus']} CPUs, Linux {meta['kernel']}, "
        f"{meta['nginx']}; server on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}; "
        f"{meta['rounds']} interleaved rounds, median (min-max).", "",
        f"    {command}", "",
        f"## One {meta['size'] / GIB:g} GiB download, one client", "",
        "| server (client) | MiB/s | ÷ nginx | server CPU s per GiB |",
        "| --- | --- | --- | --- |"]
    for name, rounds in single.items():
        rate = statistics.median(r["mib_s"] for r in rounds)
        lines.append(f"| {name} | {column(rounds, 'mib_s')} | {rate / nginx_rate:.2f}x | "
                     f"{fine(rounds, 'cpu_s_per_gib')} |")
    lines += ["", f"## Server memory during one {meta['big'] / GIB:g} GiB download", "",
              "| server | peak RSS (MiB) |", "| --- | --- |"]
    for name, rounds in results["rss"].items():
        lines.append(f"| {name} | {column(rounds, 'peak_rss_mib')} |")
    lines += ["", f"## {meta['clients']} downloads of {meta['each'] / MIB:g} MiB at once", "",
              "| server | aggregate MiB/s | slowest ÷ fastest | median client time (s) |",
              "| --- | --- | --- | --- |"]
    for name, rounds in results["fairness"].items():
        lines.append(f"| {name} | {column(rounds, 'aggregate_mib_s')} | "
                     f"{fine(rounds, 'slowest_over_fastest')} | "
                     f"{column(rounds, 'median_s')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
