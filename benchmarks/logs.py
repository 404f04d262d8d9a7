"""netlab's LogServer beside rsyslog (imtcp to omfile), the same load from netlab's generator.

Needs Debian's `rsyslog`. Pinning: each server alone on CPU 0, the generator on CPU 1.
Every comparison is interleaved (round 1 runs each contender once, then round 2, ...);
tables give the median of the rounds and their spread (min-max).

1. Ingest: --messages (1,000,000) RFC 5424 messages of 200 bytes over 10 connections, sent
   as fast as the server takes them (the generator's syslog scenario, LF-framed and
   octet-counted), timed until the last one is in rsyslog's file or committed in netlab's
   journal: messages/s, and the server's CPU seconds per million (utime + stime of its
   process, /proc/PID/stat); for netlab also until the last is in the block index, and
   the CPU with indexing. A long LF run (--sustained, 4,000,000: about 1 GB of journal)
   shows whether the index keeps up: past max_index_lag (512 MiB) not yet indexed, ingest
   would wait for it. Beside them, netlab's text protocol with acknowledgements (the
   log scenario, 10 connections, 16 in flight each) with ack=received, ack=durable
   (synchronous NORMAL) and ack=durable sync=full: acknowledged logs/s.
2. Store: a row per log in SQLite (the design LogServer's block index replaced) with and
   without an FTS5 index, 1,000,000 200-byte rows in batches of 10,000 (Python's sqlite3,
   WAL, synchronous NORMAL): rows/s and bytes on disk per million logs.
3. Query: --query-logs (10,000,000) logs stored through the syslog port, then keyword
   queries returning 100 rows through the query port (QUERY|keyword=..|limit=100), one at a
   time: a word in every log, and a word in a few; p50 and p99 over --queries each.

    PYTHONPATH=python python benchmarks/logs.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

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

from cbuild import run_command  # noqa: E402  (benchmarks/ is on sys.path)
from netlab.load import LoadGenerator  # noqa: E402

SERVER_CPU, CLIENT_CPU = 0, 1
pinned, cpu_seconds, free_port = bench_http.pinned, bench_http.cpu_seconds, bench_http.free_port
wait_listening, spread = bench_http.wait_listening, bench_http.spread
interleaved: Callable[[int, dict[str, Callable[[], dict[str, float]]]],
                      dict[str, list[dict[str, float]]]] = bench_http.interleaved
RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
SIZE = 200
CONNECTIONS = 10


class Server(Proc):
    """A server process pinned to SERVER_CPU that counts what it has taken in."""

    def count(self) -> int:
        raise NotImplementedError


class Rsyslog(Server):
    """imtcp to omfile, the message part of each message on a line."""

    def __init__(self, tmp: Path) -> None:
        port = free_port()
        work = Path(tempfile.mkdtemp(dir=tmp))
        self.out = work / "out.log"
        conf = work / "rsyslog.conf"
        conf.write_text(f"""
global(workDirectory="{work}" maxMessageSize="256k")
module(load="imtcp")
input(type="imtcp" port="{port}" address="127.0.0.1")
template(name="msgonly" type="string" string="%msg%\\n")
action(type="omfile" file="{self.out}" template="msgonly")
""")
        self._seen = 0
        self._offset = 0
        super().__init__([RSYSLOGD, "-n", "-f", str(conf), "-i", str(work / "pid")], port,
                         SERVER_CPU)

    def count(self) -> int:
        if self.out.exists():
            with open(self.out, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            self._offset += len(chunk)
            self._seen += chunk.count(b"\n")
        return self._seen


class Netlab(Server):
    """`python -m netlab serve logs`: ingest, syslog and query ports over a fresh store."""

    def __init__(self, tmp: Path, *options: str) -> None:
        self.ingest, self.syslog, self.query_port = free_port(), free_port(), free_port()
        self.data = Path(tempfile.mkdtemp(dir=tmp))
        super().__init__([sys.executable, "-m", "netlab", "serve", "logs", "--port",
                          str(self.ingest), "--syslog-port", str(self.syslog), "--query-port",
                          str(self.query_port), "--data-dir", str(self.data), *options],
                         self.ingest, SERVER_CPU)
        wait_listening(self.syslog)
        wait_listening(self.query_port)

    def query(self, line: str) -> list[bytes]:
        with socket.create_connection(("127.0.0.1", self.query_port), timeout=60) as s:
            s.sendall(line.encode() + b"\n")
            f = s.makefile("rb")
            head = f.readline()
            if not head.startswith(b"RESULT|"):
                raise RuntimeError(f"query {line!r}: {head!r}")
            rows = [f.readline() for _ in range(int(head[7:]))]
            f.readline()  # END
            return rows

    def stats(self) -> dict[str, int]:
        """The ingest port's binary STATS: received, stored (committed), queued, unindexed."""
        with socket.create_connection(("127.0.0.1", self.ingest), timeout=60) as s:
            s.sendall(struct.pack("!BBHI", 1, 4, 0, 1))
            data = b""
            while len(data) < 8 or len(data) < 8 + struct.unpack("!H", data[2:4])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("STATS: connection closed")
                data += chunk
        return {k: int(v) for k, v in (line.split("=", 1) for line in data[8:].decode().split())}

    def unindexed(self) -> int:
        """Logs committed to the journal and not yet in the block index."""
        return self.stats()["unindexed"]

    def count(self) -> int:
        """Logs committed (to the journal, where queries find them)."""
        return self.stats()["stored"]

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.data, ignore_errors=True)


def generator(port: int, **settings: Any) -> LoadGenerator:
    return LoadGenerator("127.0.0.1", port, connections=CONNECTIONS, threads=1, size=SIZE,
                         **settings)


def absorb(server: Server, port: int, messages: int, framing: str) -> dict[str, float]:
    """Sends `messages` syslog messages as fast as the server reads them; times until the
    server has them all."""
    cpu0, start = server.cpu(), time.monotonic()
    sent = generator(port, scenario="syslog", framing=framing, rate=5_000_000,
                     requests=messages, duration=0, response_timeout=120).run()
    deadline = time.monotonic() + 300
    while server.count() < sent.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    seconds = time.monotonic() - start
    got = server.count()
    out = {"msgs_per_s": got / seconds, "cpu_s_per_m": (server.cpu() - cpu0) / got * 1e6,
           "sent": float(sent.requests), "stored": float(got)}
    if isinstance(server, Netlab):
        # The same logs again, timed until the index has them too: the work deferred.
        while server.unindexed() > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        indexed_s = time.monotonic() - start
        out.update({"indexed_per_s": got / indexed_s,
                    "cpu_s_per_m_indexed": (server.cpu() - cpu0) / got * 1e6})
    return out


def acked(server: Netlab, seconds: float) -> dict[str, float]:
    cpu0 = server.cpu()
    r = generator(server.ingest, scenario="log", pipeline=16, duration=seconds).run()
    return {"acked_per_s": r.responses / r.duration, "cpu_s_per_m":
            (server.cpu() - cpu0) / max(1, r.responses) * 1e6,
            "p99_ms": r.latency_ms["p99"], "errors": float(r.errors)}


def ingest(tmp: Path, rounds: int, messages: int, sustained: int,
           seconds: float) -> dict[str, Any]:
    def syslog_run(kind: str, framing: str, count: int = messages
                   ) -> Callable[[], dict[str, float]]:
        def run() -> dict[str, float]:
            server: Server = Rsyslog(tmp) if kind == "rsyslog" else Netlab(tmp)
            port = server.syslog if isinstance(server, Netlab) else server.port
            try:
                return absorb(server, port, count, framing)
            finally:
                server.stop()
        return run

    def acked_run(*options: str) -> Callable[[], dict[str, float]]:
        def run() -> dict[str, float]:
            server = Netlab(tmp, *options)
            try:
                return acked(server, seconds)
            finally:
                server.stop()
        return run

    contenders = {
        "rsyslog, LF": syslog_run("rsyslog", "lf"),
        "netlab syslog, LF": syslog_run("netlab", "lf"),
        "rsyslog, octet-counted": syslog_run("rsyslog", "octet"),
        "netlab syslog, octet-counted": syslog_run("netlab", "octet"),
        f"rsyslog, LF, {sustained:,} messages": syslog_run("rsyslog", "lf", sustained),
        f"netlab syslog, LF, {sustained:,} messages": syslog_run("netlab", "lf", sustained),
        "netlab text, ack=received": acked_run("--ack", "received"),
        "netlab text, ack=durable": acked_run("--ack", "durable"),
        "netlab text, ack=durable sync=full": acked_run("--ack", "durable", "--sync", "full"),
    }
    return interleaved(rounds, contenders)


SCHEMA = """
CREATE TABLE logs(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, received INTEGER NOT NULL,
  level INTEGER NOT NULL, host TEXT NOT NULL DEFAULT '', app TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL, flags INTEGER NOT NULL DEFAULT 0, client TEXT, seq INTEGER);
CREATE UNIQUE INDEX logs_key ON logs(client, seq) WHERE client IS NOT NULL;
CREATE INDEX logs_ts ON logs(ts);
CREATE INDEX logs_severe ON logs(level) WHERE level <= 3;
"""
FTS = ("CREATE VIRTUAL TABLE logs_fts USING fts5(message, content='logs', content_rowid='id', "
       "tokenize='unicode61');")


def store_cost(tmp: Path, rows: int, fts: bool) -> dict[str, float]:
    """LogStore's schema and batches, FTS5 on or off: rows/s and bytes per million."""
    path = Path(tempfile.mkdtemp(dir=tmp)) / "logs.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA + (FTS if fts else ""))
    words = ["disk", "full", "timeout", "upstream", "request", "user", "login", "failed"]
    start = time.monotonic()
    now = int(time.time() * 1000)
    for first in range(1, rows + 1, 10_000):
        batch = []
        for i in range(first, min(first + 10_000, rows + 1)):
            text = f"{words[i % 8]} {words[(i * 7) % 8]} id={i} " + "x" * 150
            batch.append((i, now, now, 6, "web01", "app", text[:SIZE]))
        db.execute("BEGIN")
        db.executemany("INSERT INTO logs(id, ts, received, level, host, app, message) "
                       "VALUES(?,?,?,?,?,?,?)", batch)
        if fts:
            db.executemany("INSERT INTO logs_fts(rowid, message) VALUES(?, ?)",
                           [(b[0], b[6]) for b in batch])
        db.execute("COMMIT")
    seconds = time.monotonic() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = sum(p.stat().st_size for p in path.parent.iterdir())
    shutil.rmtree(path.parent, ignore_errors=True)
    return {"rows_per_s": rows / seconds, "bytes_per_log": size / rows}


def query_latency(tmp: Path, logs: int, queries: int) -> dict[str, Any]:
    server = Netlab(tmp)
    try:
        start = time.monotonic()
        absorb(server, server.syslog, logs, "octet")  # returns once indexed too
        fill_s = time.monotonic() - start
        disk = sum(p.stat().st_size for p in server.data.rglob("*") if p.is_file())
        out: dict[str, Any] = {"logs": server.count(), "fill_s": fill_s,
                               "bytes_per_m": disk / max(1, server.count()) * 1e6}
        # Every message is "load <n> xxx...": "load" is in every log; "<n>" in one.
        keywords: tuple[tuple[str, Callable[[int], str]], ...] = (
            ("every log", lambda i: "load"), ("one log", lambda i: str(1000 + i * 7919 % 100000)))
        for name, keyword in keywords:
            times = []
            for i in range(queries):
                t0 = time.perf_counter()
                rows = server.query(f"QUERY|keyword={keyword(i)}|limit=100")
                times.append((time.perf_counter() - t0) * 1000)
                assert rows, f"no rows for {keyword(i)}"
            times.sort()
            out[name] = {"p50_ms": statistics.median(times),
                         "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
                         "rows": len(rows)}
            print(f"  query, keyword in {name}: {out[name]}", flush=True)
        return out
    finally:
        server.stop()


def table(results: dict[str, list[dict[str, float]]], columns: list[tuple[str, str]]) -> str:
    head = "| contender | " + " | ".join(title for _, title in columns) + " |"
    rule = "| --- |" + " --- |" * len(columns)
    rows = [f"| {name} | " + " | ".join(spread([r[key] for r in runs if key in r])
                                         for key, _ in columns) + " |"
            for name, runs in results.items()]
    return "\n".join([head, rule, *rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--sustained", type=int, default=4_000_000,
                        help="messages of the long LF run: more than max_index_lag holds")
    parser.add_argument("--seconds", type=float, default=5, help="acknowledged runs' length")
    parser.add_argument("--store-rows", type=int, default=1_000_000)
    parser.add_argument("--query-logs", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, help="write logs.md and logs.json here")
    args = parser.parse_args()
    if not Path(RSYSLOGD).exists():
        print("rsyslogd is not installed (apt-get install rsyslog)", file=sys.stderr)
        return 1
    os.sched_setaffinity(0, {CLIENT_CPU})
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        print("ingest", flush=True)
        ingest_runs = ingest(tmp, args.rounds, args.messages, args.sustained, args.seconds)
        print("store", flush=True)
        store = interleaved(args.rounds, {
            "SQLite + FTS5": lambda: store_cost(tmp, args.store_rows, True),
            "SQLite, plain table": lambda: store_cost(tmp, args.store_rows, False)})
        print("query", flush=True)
        query = query_latency(tmp, args.query_logs, args.queries)

    syslog_rows = {k: v for k, v in ingest_runs.items() if "syslog" in k or "rsyslog" in k}
    acked_rows = {k: v for k, v in ingest_runs.items() if k not in syslog_rows}
    command = run_command()
    md = [
        "# LogServer beside rsyslog", "",
        f"{datetime.date.today()}, {platform.node() or 'this machine'}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, rsyslog "
        + subprocess.run([RSYSLOGD, "-v"], capture_output=True, text=True).stdout.split()[1]
        + f". Command: `{command}`. Medians of {args.rounds} interleaved rounds, (min-max).", "",
        f"## Ingest: {args.messages:,} (and {args.sustained:,}) syslog messages of {SIZE} bytes, "
        f"{CONNECTIONS} connections",
        "", "Timed from the first message sent until the last is in rsyslog's file or committed "
        "in netlab's journal (where queries find it); then, for netlab, until the last is in "
        "its block index too, with the CPU the indexing took. The long runs write about 1 GB "
        "of journal, more than the 512 MiB (max_index_lag) that may wait for the index: had "
        "the index fallen behind, ingest would have waited for it.", "",
        table(syslog_rows, [("msgs_per_s", "messages/s"), ("cpu_s_per_m", "server CPU s per M"),
                            ("indexed_per_s", "messages/s until indexed"),
                            ("cpu_s_per_m_indexed", "CPU s per M with indexing")]),
        "", f"## Ingest with acknowledgements: the text protocol, {CONNECTIONS} connections x 16 "
        f"in flight, {args.seconds:g} s", "",
        table(acked_rows, [("acked_per_s", "acknowledged logs/s"), ("p99_ms", "p99 ms"),
                           ("cpu_s_per_m", "server CPU s per M")]),
        "", f"## A row per log in SQLite (the design the block index replaced): "
        f"{args.store_rows:,} rows in batches of 10,000 (Python sqlite3, WAL, synchronous "
        "NORMAL)", "",
        table(store, [("rows_per_s", "rows/s"), ("bytes_per_log", "bytes on disk per log")]),
        "", f"## Query: {query['logs']:,} logs stored (filled in {query['fill_s']:.0f} s, "
        f"{query['bytes_per_m'] / 1e6:,.0f} MB per million on disk, WAL included), "
        f"{args.queries} keyword "
        "queries each, limit 100, one at a time through the query port", "",
        "| keyword in | p50 ms | p99 ms |", "| --- | --- | --- |",
        *(f"| {name} | {query[name]['p50_ms']:.2f} | {query[name]['p99_ms']:.2f} |"
          for name in ("every log", "one log")),
    ]
    text = "\n".join(md) + "\n"
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "logs.md").write_text(text)
        (args.out / "logs.json").write_text(json.dumps(
            {"command": command, "ingest": ingest_runs, "store": store, "query": query},
            indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
