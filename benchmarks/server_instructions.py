"""User-space instructions per request of netlab's servers (and of its HTTP client), counted
by callgrind, beside a reference counted the same way: the one figure of a program's own work
that this noisy machine repeats.

A server's CPU per request here is mostly the kernel's (system calls, wake-ups), and
wall-clock rounds spread by ±10% or more, so a change to the server's own code worth a few
percent of its user time cannot be seen in them. `valgrind --tool=callgrind` counts the
instructions the server process executes instead. Each server runs under callgrind on
CPU 0 while a client that is not under valgrind drives it from CPU 1 for --seconds:

- echo: `netlab serve echo --model epoll` and benchmarks/c/echo_server.c, driven by
  benchmarks/c/echo_client.c (closed loop, 64 B, --echo-connections);
- http: `netlab serve http --model epoll` and nginx (Debian's nginx-light, configured as
  benchmarks/http.py does: one process, `return 200` of a body like HttpServer's `/`),
  driven by `wrk -t1` against `/` (--http-connections);
- http-browser: the same with the headers a browser sends (BROWSER_HEADERS, about 400
  bytes: User-Agent, Accept, Accept-Language, Accept-Encoding, a Cookie);
- http-client: the other side. netlab's http scenario (LoadGenerator, one thread, GET /,
  --http-connections) and `wrk -t1`, each under callgrind on CPU 1, against nginx on CPU 0
  (not under valgrind). wrk carries no symbols and starts LuaJIT: its figure is the
  difference of a long and a short run (their instructions over their requests), which
  leaves its start-up out;
- chat: `netlab serve chat --model epoll`, one room of --chat-members, driven by netlab's
  chat scenario (open loop, --chat-rate messages/s in all, 64 B); a request here is one
  delivery to a member. No reference program: it compares netlab builds.

Reported per request: for netlab, the inclusive count of EventLoop::loop (what the serving
loop does, system call wrappers included, the kernel's work not, Python's start-up not);
for the C server, main(); for nginx, whose Debian build carries no symbols, the whole
process (started and left idle for a run's length it counts 7.9 million, about 1% of a
run). Under valgrind a program answers fewer requests a second, so whatever is paced by the
clock (the HTTP Date, once a second) weighs a little more than in a real run.

With --cache-sim the servers also run through callgrind's cache simulator, which reports
L1 data cache misses per request (reads and writes, user space only, for this machine's cache
sizes): how many of a program's own cache lines a request touches that were not still
cached, written to server_cache.{md,json}. The wall clock cannot see these either (the
kernel's share of a request dwarfs them), but a working set spread over more lines is what
costs more as connections grow.

    PYTHONPATH=python python benchmarks/server_instructions.py --build before=build/base-py \\
        --build after=build/head-py --out benchmarks/results

Needs valgrind, wrk and nginx-light (`apt-get install valgrind wrk nginx-light`).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cbuild import build, netlab_env, pinned, record  # benchmarks/ is on sys.path
from loadgen_instructions import inclusive, inclusive_events, parse_build

# benchmarks/http.py by path: its name would shadow the standard library's http package.
_spec = importlib.util.spec_from_file_location("bench_http", Path(__file__).with_name("http.py"))
assert _spec and _spec.loader
bench_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_http)

SERVER_CPU, CLIENT_CPU = 0, 1


def valgrind(profile: str, cache_sim: bool) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}",
            *(["--cache-sim=yes"] if cache_sim else [])]


def under_callgrind(cmd: list[str], profile: str, env: dict[str, str],
                    cache_sim: bool = False) -> subprocess.Popen[str]:
    full = [*valgrind(profile, cache_sim), *cmd]
    return subprocess.Popen(pinned(SERVER_CPU, full), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)


def listening_port(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on [\d.]+:(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the server did not start under valgrind: {line!r}")
    return int(match.group(1))


def finish(proc: subprocess.Popen[str], sig: int) -> None:
    """Stops a server under valgrind; callgrind writes its profile as the process ends."""
    proc.send_signal(sig)
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def drive_echo(port: int, args: argparse.Namespace) -> int:
    out = subprocess.run(pinned(CLIENT_CPU, [str(build("echo_client")), str(port),
                                             str(args.echo_connections), str(args.seconds),
                                             "64"]),
                         capture_output=True, text=True, timeout=args.seconds + 120)
    result = json.loads(out.stdout)
    if result.get("errors"):
        raise SystemExit(f"echo_client saw errors: {result}")
    return int(result["responses"])


# What a browser sends besides the request line (about 400 bytes): the http-browser app.
BROWSER_HEADERS = (
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "*/*;q=0.8",
    "Accept-Language: en-US,en;q=0.9,fr;q=0.8",
    "Accept-Encoding: gzip, deflate, br",
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; lang=en",
)


def drive_http(port: int, args: argparse.Namespace, headers: tuple[str, ...]) -> int:
    extra = [arg for h in headers for arg in ("-H", h)]
    out = subprocess.run(pinned(CLIENT_CPU, ["wrk", "-t1", f"-c{args.http_connections}",
                                             f"-d{round(args.seconds)}s", *extra,
                                             f"http://127.0.0.1:{port}/"]),
                         capture_output=True, text=True, timeout=args.seconds + 120).stdout
    done = re.search(r"(\d+) requests in", out)
    if not done or "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk failed or saw errors:\n{out}")
    return int(done.group(1))


def program_total(profile: str) -> int:
    return program_events(profile)["Ir"]


def program_events(profile: str) -> dict[str, int]:
    """The whole program's counts by event (Ir; with --cache-sim, D1mr, D1mw and the rest)."""
    names: list[str] = []
    with open(profile) as f:
        for line in f:
            if line.startswith("events:"):
                names = line.split()[1:]
            if line.startswith("totals:") or line.startswith("summary:"):
                return dict(zip(names, (int(v) for v in line.split()[1:])))
    raise SystemExit(f"no totals in {profile}")


LOADGEN_HTTP = """
from netlab.load import LoadGenerator
r = LoadGenerator("127.0.0.1", {port}, scenario="http", path="/", connections={connections},
                  threads=1, requests={requests}).run()
print("RESPONSES", r.responses, r.errors)
"""


LOADGEN_CHAT = """
from netlab.load import LoadGenerator
r = LoadGenerator("127.0.0.1", {port}, scenario="chat", connections={members}, threads=1,
                  rate={rate}, duration={seconds}, size=64).run()
print("DELIVERIES", r.responses, r.errors)
"""


def drive_chat(port: int, args: argparse.Namespace) -> int:
    code = LOADGEN_CHAT.format(port=port, members=args.chat_members, rate=args.chat_rate,
                               seconds=args.seconds)
    out = subprocess.run(pinned(CLIENT_CPU, [sys.executable, "-c", code]), capture_output=True,
                         text=True, env=netlab_env(), timeout=args.seconds + 120).stdout
    match = re.search(r"DELIVERIES (\d+) (\d+)", out)
    if not match or int(match.group(1)) == 0 or int(match.group(2)) != 0:
        raise SystemExit(f"the chat scenario failed or saw errors:\n{out}")
    return int(match.group(1))


def run_callgrind(cmd: list[str], profile: str, env: dict[str, str], timeout: float) -> str:
    full = [*valgrind(profile, False), *cmd]
    done = subprocess.run(pinned(CLIENT_CPU, full), capture_output=True, text=True, env=env,
                          timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed under valgrind:\n{done.stderr[-2000:]}")
    return done.stdout


def wrk_under_callgrind(url: str, seconds: float, profile: str,
                        args: argparse.Namespace) -> tuple[int, int]:
    out = run_callgrind(["wrk", "-t1", f"-c{args.http_connections}", f"-d{round(seconds)}s", url],
                        profile, dict(os.environ), seconds + 300)
    done = re.search(r"(\d+) requests in", out)
    if not done or "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk failed or saw errors:\n{out}")
    return int(done.group(1)), program_total(profile)


def measure_client(label: str, path: str, args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    nginx = bench_http.Server("nginx", Path(tmp))
    try:
        profile = os.path.join(tmp, f"client-{len(os.listdir(tmp))}")
        if not path:
            short, total_short = wrk_under_callgrind(nginx.url, 2, profile + "s", args)
            requests, total = wrk_under_callgrind(nginx.url, args.seconds + 2, profile, args)
            return {"requests": requests,
                    "instructions_per_request": (total - total_short) / (requests - short)}
        env = dict(os.environ, PYTHONPATH=os.path.abspath(path))
        code = LOADGEN_HTTP.format(port=nginx.port, connections=args.http_connections,
                                   requests=args.client_requests)
        out = run_callgrind([sys.executable, "-c", code], profile, env, 1800)
    finally:
        nginx.stop()
    match = re.search(r"RESPONSES (\d+) (\d+)", out)
    if not match or int(match.group(1)) == 0 or int(match.group(2)) != 0:
        raise SystemExit(f"the http scenario at {path} failed:\n{out}")
    requests = int(match.group(1))
    return {"requests": requests,
            "instructions_per_request": inclusive(profile, "netlab::EventLoop::loop(") / requests}


def measure(app: str, server: str, path: str, args: argparse.Namespace,
            tmp: str) -> dict[str, Any]:
    if app == "http-client":
        return measure_client(server, path, args, tmp)
    profile = os.path.join(tmp, f"{app}-{len(os.listdir(tmp))}")
    env = dict(os.environ)
    if server == "reference" and app == "echo":
        proc = under_callgrind([str(build("echo_server")), "0"], profile, env, args.cache_sim)
        port = listening_port(proc)
    elif server == "reference":
        port = bench_http.free_port()
        conf = bench_http.nginx_conf(Path(tmp), port)
        proc = under_callgrind(["nginx", "-c", str(conf)], profile, env, args.cache_sim)
        bench_http.wait_listening(port, timeout=60)
    else:
        env["PYTHONPATH"] = os.path.abspath(path)
        served = app if app in ("echo", "chat") else "http"
        proc = under_callgrind([sys.executable, "-m", "netlab", "serve", served, "--port", "0",
                                "--model", "epoll"], profile, env, args.cache_sim)
        port = listening_port(proc)
    time.sleep(0.5)  # past the start-up, which valgrind slows most
    try:
        if app == "echo":
            requests = drive_echo(port, args)
        elif app == "chat":
            requests = drive_chat(port, args)
        else:
            requests = drive_http(port, args, BROWSER_HEADERS if app == "http-browser" else ())
    finally:
        # nginx stops on SIGTERM; netlab's CLI and the C server on SIGINT.
        nginx = server == "reference" and app != "echo"
        finish(proc, signal.SIGTERM if nginx else signal.SIGINT)
    if server != "reference":
        counts = inclusive_events(profile, "netlab::EventLoop::loop(")
    elif app == "echo":
        counts = inclusive_events(profile, ":main [")
    else:
        counts = program_events(profile)
    row = {"requests": requests, "instructions_per_request": counts["Ir"] / requests}
    if args.cache_sim:
        row["l1_data_misses_per_request"] = (counts["D1mr"] + counts["D1mw"]) / requests
    return row


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"# Instructions per request: servers, and the HTTP client ({datetime.date.today()})", "",
        f"`benchmarks/server_instructions.py` on {platform.node()}: callgrind's count of "
        f"user-space instructions (Ir) per request, each server on CPU 0 for {args.seconds:g} s "
        f"under valgrind; echo driven by benchmarks/c/echo_client.c ({args.echo_connections} "
        f"connections, 64 B), http by `wrk -t1 -c{args.http_connections}` against `/`, "
        "http-browser the same with a browser's headers (about 400 bytes); "
        f"http-client: netlab's http scenario ({args.client_requests:,} requests) and wrk "
        f"under callgrind against nginx; chat: one room of {args.chat_members} members, "
        f"{args.chat_rate:g} messages/s, a request being one delivery.", "",
        "| app | program | requests | instructions/request |", "| --- | --- | --- | --- |"]
    if args.cache_sim:
        lines[-2:] = ["With --cache-sim: callgrind's simulated L1 data cache misses (reads and "
                      "writes, D1mr + D1mw) per request beside them, the same program's lines "
                      "for this machine's cache sizes, user space only.", "",
                      "| app | program | requests | instructions/request "
                      "| L1 data misses/request |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        misses = (f" {row['l1_data_misses_per_request']:.2f} |"
                  if "l1_data_misses_per_request" in row else "")
        lines.append(f"| {row['app']} | {row['server']} | {row['requests']:,} | "
                     f"{row['instructions_per_request']:,.0f} |{misses}")
    labels = [label for label, _ in args.build]
    if len(labels) >= 2:
        lines += ["", f"Ratios {labels[-1]}/{labels[0]}:", ""]
        for app in args.apps:
            by = {r["server"]: r for r in rows if r["app"] == app}
            a, b = by[labels[0]], by[labels[-1]]
            ratio = b["instructions_per_request"] / a["instructions_per_request"]
            misses = ""
            if a.get("l1_data_misses_per_request") and "l1_data_misses_per_request" in b:
                misses = (", L1 data misses " + format(b["l1_data_misses_per_request"]
                                                       / a["l1_data_misses_per_request"], ".3f")
                          + "x")
            lines.append(f"- {app}: instructions {ratio:.3f}x{misses}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=parse_build, action="append", required=True,
                        metavar="LABEL=PYTHONPATH", help="a netlab build (repeatable)")
    parser.add_argument("--apps", type=lambda s: s.split(","),
                        default=["echo", "http", "http-browser", "http-client"])
    parser.add_argument("--client-requests", type=int, default=150_000,
                        help="requests of each netlab http-client run")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--echo-connections", type=int, default=100)
    parser.add_argument("--http-connections", type=int, default=50)
    parser.add_argument("--chat-members", type=int, default=100)
    parser.add_argument("--chat-rate", type=float, default=200,
                        help="chat messages/s sent in all (each delivered to every other member)")
    parser.add_argument("--cache-sim", action="store_true",
                        help="also count simulated L1 data cache misses (servers; slower)")
    parser.add_argument("--out", help="write server_instructions.md and .json here")
    args = parser.parse_args()
    reference = {"echo": "C echo_server", "http": "nginx", "http-browser": "nginx",
                 "http-client": "wrk"}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for app in args.apps:
            references = [(reference[app], "")] if app in reference else []
            for label, path in [*args.build, *references]:
                server = "reference" if not path else label
                row = measure(app, server, path, args, tmp)
                rows.append({"app": app, "server": label, **row})
                print(rows[-1], flush=True)
    text = report(rows, args)
    print(text)
    record(args.out, "server_cache" if args.cache_sim else "server_instructions", text,
           {"date": str(datetime.date.today()), "host": platform.node(),
            "seconds": args.seconds, "cache_sim": args.cache_sim, "rows": rows})


if __name__ == "__main__":
    main()
