"""netlab's relay (TCP port forwarder) beside socat, moving the same bytes to the same sink.

A C source (benchmarks/c/source.c) writes --bytes (default 1 GiB) as fast as it can through
`python -m netlab serve relay --model epoll --target 127.0.0.1:SINK` or through
`socat TCP-LISTEN:PORT,reuseaddr,bind=127.0.0.1 TCP:127.0.0.1:SINK`, into a C sink
(benchmarks/c/sink.c) that reads and discards; both are built with `cc -O2` into build/bench/
when missing or older than their source. The source connecting straight to the sink is run
too, as the ceiling the source and sink allow. Rounds are interleaved (netlab, socat, direct,
netlab, ...), each relay is started fresh for its run, and each transfer is checked at the
sink (byte count, and a hash of every 4096th byte against the source's). The relay runs on
CPU 0, the source and the sink on CPU 1 (`taskset`; --no-pin to let the scheduler place them:
on a 2-CPU machine that spreads the rounds much more).

Throughput: bytes / seconds from the sink's accept to its end of stream (MB = 10^6 bytes).
Relay CPU: utime + stime of the relay process over the transfer (from /proc/PID/stat before
the source starts; for socat, which exits when the transfer ends, from wait4(2) at its exit;
for netlab, from /proc/PID/stat once the sink has reported), in seconds per GiB moved.

    PYTHONPATH=python python benchmarks/relay_vs_socat.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Optional

from cbuild import build, pinned, run_command  # benchmarks/ is on sys.path
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GIB = 1 << 30
KINDS = ("netlab", "socat", "direct")


def parse_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([kmgt]?)i?b?", text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r} (say 1G, 256M, 1000000)")
    return int(match.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[match.group(2)]


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def read_line(stream: IO[str], timeout: float, what: str) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise RuntimeError(f"no answer from {what} within {timeout:g} s")
    return stream.readline()


def start_relay(kind: str, sink_port: int, cpu: Optional[int]) -> tuple[subprocess.Popen[str], int]:
    if kind == "netlab":
        cmd = [sys.executable, "-m", "netlab", "serve", "relay", "--port", "0", "--model",
               "epoll", "--target", f"127.0.0.1:{sink_port}"]
        proc = subprocess.Popen(pinned(cpu, cmd), stdout=subprocess.PIPE, text=True)
        stream, pattern = proc.stdout, r"listening on [\d.]+:(\d+)"
    else:
        # -d -d only adds notices at connection events; it is how the chosen port is learnt.
        cmd = ["socat", "-d", "-d", "TCP-LISTEN:0,reuseaddr,bind=127.0.0.1",
               f"TCP:127.0.0.1:{sink_port}"]
        proc = subprocess.Popen(pinned(cpu, cmd), stderr=subprocess.PIPE, text=True)
        stream, pattern = proc.stderr, r"listening on AF=2 [\d.]+:(\d+)"
    assert stream is not None
    match = re.search(pattern, read_line(stream, 30, kind))
    if not match:
        proc.kill()
        raise RuntimeError(f"{kind} did not start")
    return proc, int(match.group(1))


def one_run(kind: str, sink: subprocess.Popen[str], sink_port: int,
            args: argparse.Namespace) -> dict[str, float]:
    proc: Optional[subprocess.Popen[str]] = None
    port = sink_port
    if kind != "direct":
        proc, port = start_relay(kind, sink_port, args.relay_cpu)
    try:
        before = cpu_seconds(proc.pid) if proc else 0.0
        src = subprocess.run(pinned(args.client_cpu, [str(build("source")), str(port),
                                                      str(args.bytes)]),
                             capture_output=True, text=True, timeout=600)
        assert sink.stdout is not None
        got = json.loads(read_line(sink.stdout, 60, "the sink"))
        sent = json.loads(src.stdout) if src.stdout.strip() else {}
        cpu = 0.0
        if proc is not None and kind == "socat":
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime - before
        elif proc is not None:
            time.sleep(0.05)  # the relay's side of the close
            cpu = cpu_seconds(proc.pid) - before
    finally:
        if proc is not None and proc.returncode is None:
            proc.terminate()
            proc.wait(10)
    ok = (src.returncode == 0 and got["bytes"] == args.bytes and not got["error"]
          and got["sample_hash"] == sent.get("sample_hash"))
    if not ok:
        raise RuntimeError(f"{kind}: the transfer went wrong: source {src.stdout.strip()} "
                           f"{src.stderr.strip()}, sink {got}")
    return {"bytes": float(got["bytes"]), "seconds": got["seconds"],
            "mb_per_s": got["bytes"] / got["seconds"] / 1e6,
            "source_seconds": sent["seconds"],
            "relay_cpu_seconds": cpu, "relay_cpu_s_per_gib": cpu / (got["bytes"] / GIB)}


def spread(rounds: list[dict[str, float]], key: str, fmt: str) -> str:
    values = [r[key] for r in rounds]
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bytes", type=parse_bytes, default=GIB,
                        help="bytes per transfer: 1G (default), 256M, 1000000, ...")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the relay to CPU 0 and the source and sink to CPU 1")
    parser.add_argument("--out", default=None, help="directory for relay_vs_socat.{md,json}")
    args = parser.parse_args()
    args.relay_cpu, args.client_cpu = (None, None) if args.no_pin else (0, 1)
    for name in ("source", "sink"):
        build(name)
    command = run_command()
    started = datetime.datetime.now()
    socat_version = subprocess.run(["socat", "-V"], capture_output=True, text=True).stdout
    socat_version = next((line.strip() for line in socat_version.splitlines()
                          if line.startswith("socat version")), "socat")

    sink = subprocess.Popen(pinned(args.client_cpu, [str(build("sink")), "0"]),
                            stdout=subprocess.PIPE, text=True)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in KINDS}
    try:
        assert sink.stdout is not None
        match = re.search(r"listening on [\d.]+:(\d+)", read_line(sink.stdout, 10, "the sink"))
        if not match:
            raise RuntimeError("the sink did not start")
        sink_port = int(match.group(1))
        for i in range(args.rounds):
            for kind in KINDS:
                r = one_run(kind, sink, sink_port, args)
                runs[kind].append(r)
                print(f"round {i + 1} {kind:>6}: {r['mb_per_s']:8,.0f} MB/s  "
                      f"relay CPU {r['relay_cpu_s_per_gib']:.3f} s/GiB", flush=True)
    finally:
        sink.terminate()
        sink.wait(10)

    size = (f"{args.bytes / GIB:g} GiB" if args.bytes % (GIB // 4) == 0
            else f"{args.bytes:,} bytes")
    mbps = {k: statistics.median(r["mb_per_s"] for r in runs[k]) for k in KINDS}
    cpu = {k: statistics.median(r["relay_cpu_s_per_gib"] for r in runs[k]) for k in KINDS}
    ratio, cpu_ratio = mbps["netlab"] / mbps["socat"], cpu["netlab"] / cpu["socat"]
    pin = "unpinned" if args.no_pin else "relay on CPU 0, source and sink on CPU 1 (taskset)"
    lines = [f"Command: `{command}`", "",
             f"Date: {started:%Y-%m-%d %H:%M}; {os.cpu_count()} CPUs, Linux "
             f"{platform.release()}; {socat_version}; "
             f"{pin}; "
             f"{args.rounds} rounds interleaved, {size} per transfer; figures are "
             f"median (min–max) over the rounds.", "",
             "# netlab relay vs socat", "",
             "| path | MB/s | relay CPU s/GiB |", "| --- | --- | --- |"]
    labels = {"netlab": "source → `netlab serve relay` (epoll) → sink",
              "socat": "source → `socat` → sink",
              "direct": "source → sink (no relay: the ceiling)"}
    for kind in KINDS:
        cpu_cell = (spread(runs[kind], "relay_cpu_s_per_gib", ".3f") if kind != "direct"
                    else "–")
        lines.append(f"| {labels[kind]} | {spread(runs[kind], 'mb_per_s', ',.0f')} | "
                     f"{cpu_cell} |")
    lines += ["", f"Ratio netlab/socat: **{ratio:.2f}x** MB/s (target: at least 0.9x, "
              f"{'met' if ratio >= 0.9 else '**missed**'}); **{cpu_ratio:.2f}x** relay CPU "
              f"per GiB."]
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if args.out:
        out = Path(args.out)
        (out / "relay_vs_socat.md").write_text(report)
        data: dict[str, Any] = {
            "command": f"PYTHONPATH=python {command}", "date": started.isoformat(),
            "settings": {"bytes": args.bytes, "rounds": args.rounds, "pin": not args.no_pin},
            "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                        "socat": socat_version},
            "runs": runs, "ratio_mb_per_s": ratio, "ratio_cpu_per_gib": cpu_ratio,
            "target_met": ratio >= 0.9}
        (out / "relay_vs_socat.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
