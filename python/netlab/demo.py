"""``python -m netlab demo``: the same echo load against each I/O model, side by side.

Each server runs in its own process (``python -m netlab serve echo``), so its CPU time,
threads and memory are its own; the load generator runs here with the same settings for
every model.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from netlab.load import LoadGenerator, LoadResult

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class ModelRun:
    model: str
    result: LoadResult
    server_cpu_seconds: float
    server_threads: int
    server_rss_mib: float

    @property
    def server_cpu_per_10k(self) -> float:
        return self.server_cpu_seconds / max(self.result.responses, 1) * 10_000


class ServerProcess:
    """A netlab server (echo by default) in a child process, and its resource use from /proc."""

    def __init__(self, model: str, extra: Sequence[str] = (), app: str = "echo") -> None:
        cmd = [sys.executable, "-m", "netlab", "serve", app, "--port", "0", "--model", model,
               *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        banner = self.proc.stdout.readline()
        match = re.search(r"listening on [\d.]+:(\d+)", banner)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"the {model} server did not start: {banner!r}")
        self.port = int(match.group(1))

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def io_syscalls(self) -> tuple[int, int]:
        """Read-like and write-like system calls the process has made (/proc/PID/io)."""
        counts = {}
        with open(f"/proc/{self.proc.pid}/io") as f:
            for line in f:
                key, value = line.split(":")
                counts[key] = int(value)
        return counts["syscr"], counts["syscw"]

    def status(self, key: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.proc.stdout:
            self.proc.stdout.close()


def run_model(model: str, connections: int, duration: float, size: int,
              threads: int) -> ModelRun:
    server = ServerProcess(model)
    try:
        peak_threads, peak_rss = 0, 0

        def sample(_second: dict[str, Any]) -> None:
            nonlocal peak_threads, peak_rss
            peak_threads = max(peak_threads, server.status("Threads"))
            peak_rss = max(peak_rss, server.status("VmRSS"))

        cpu_before = server.cpu_seconds()
        gen = LoadGenerator("127.0.0.1", server.port, scenario="echo", connections=connections,
                            threads=threads, duration=duration, size=size)
        result = gen.run(progress=sample)
        cpu = server.cpu_seconds() - cpu_before
        sample({})
        return ModelRun(model, result, cpu, peak_threads, peak_rss / 1024)
    finally:
        server.close()


def table(runs: Sequence[ModelRun]) -> str:
    head = (f"{'model':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
            f"{'srv CPU s/10k':>15}{'srv threads':>13}{'srv RSS MiB':>13}")
    rows = [head, "-" * len(head)]
    for r in runs:
        lat = r.result.latency_ms
        rows.append(f"{r.model:<10}{r.result.responses_per_s:>10,.0f}{lat['p50']:>9.3f}"
                    f"{lat['p99']:>9.3f}{r.result.errors:>8}{r.server_cpu_per_10k:>15.3f}"
                    f"{r.server_threads:>13}{r.server_rss_mib:>13.1f}")
    return "\n".join(rows)


def main(models: Sequence[str], connections: Sequence[int], duration: float, size: int,
         threads: int, out: Optional[str] = None) -> int:
    print(f"netlab demo: echo, {size}-byte messages, closed loop, {duration:g} s per run, "
          f"load generator on {threads} thread(s); servers in their own processes.\n",
          flush=True)
    report = []
    for n in connections:
        runs = []
        for model in models:
            print(f"  {model} with {n} connections ...", flush=True)
            runs.append(run_model(model, n, duration, size, threads))
        block = f"{n} connections\n{table(runs)}\n"
        print("\n" + block, flush=True)
        report.append(block)
    if out:
        with open(out, "w") as f:
            f.write("\n".join(report))
    return 0

