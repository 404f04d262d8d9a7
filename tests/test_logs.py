"""LogServer: the guide's text ingest and query protocols under every I/O model, the durable
store (group commit, ack="durable" across SIGKILL), truncation, backpressure, and the Python
query API."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import netlab
from conftest import MODEL_OPTIONS, connect, free_port, wait_until


def read_lines(sock: socket.socket, n: int) -> list[bytes]:
    data = b""
    while data.count(b"\n") < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n")[:n]


def query(port: int, line: str) -> list[bytes]:
    """One query on its own connection: the RESULT line, the rows, END."""
    with connect(port) as sock:
        sock.sendall(line.encode() + b"\n")
        data = b""
        while not (data.endswith(b"END\n") or (data.startswith(b"ERROR|") and
                                                data.endswith(b"\n"))):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.split(b"\n")[:-1]


@pytest.fixture(params=MODEL_OPTIONS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[netlab.LogServer]:
    with netlab.LogServer(0, query_port=0, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          **request.param) as s:
        yield s


def test_ingest_and_query_every_model(server: netlab.LogServer) -> None:
    with connect(server.port) as sock:
        sock.sendall(b"LOG|ERROR|2026-11-23T10:00:00Z|disk full on /var\n"
                     b"LOG|info|1795428000|user alice logged in\n"
                     b"LOG:1795428001:WARN:old form, still understood\n"
                     b"LOG|WARNING||no timestamp: now | with a bar\n")
        replies = read_lines(sock, 4)
    assert replies == [b"OK|1", b"OK|2", b"ACK", b"OK|4"]
    server.flush()
    got = query(server.query_port, "QUERY|KEYWORD|disk")
    assert got == [b"RESULT|1", b"1|ERROR|2026-11-23T10:00:00.000Z|disk full on /var", b"END"]
    got = query(server.query_port, "QUERY|LEVEL|WARN")
    assert got[0] == b"RESULT|2" and got[1].endswith(b"|old form, still understood")
    assert got[2].endswith(b"|no timestamp: now | with a bar")
    got = query(server.query_port, "QUERY|max_level=warn|since=2026-01-01T00:00:00Z|limit=10")
    assert [row.split(b"|")[0] for row in got[1:-1]] == [b"1", b"3", b"4"]
    stats = server.stats()
    assert stats["ingest"]["logs_received"] == 4 and stats["ingest"]["store_logs"] == 4
    assert stats["query"]["queries"] == 3 and stats["query"]["rows_returned"] == 6


def test_bad_lines_are_answered_and_the_connection_goes_on(server: netlab.LogServer) -> None:
    with connect(server.port) as sock:
        sock.sendall(b"LOG|LOUD|1|x\nLOG|INFO|yesterday|x\nHELLO\nLOG:nonsense\n"
                     b"LOG|INFO|1|fine\n")
        assert read_lines(sock, 5) == [b"ERROR|bad level", b"ERROR|bad timestamp",
                                       b"ERROR|unknown command", b"ERROR|bad LOG: line",
                                       b"OK|1"]
    assert server.stats()["ingest"]["parse_errors"] == 4
    assert query(server.query_port, "QUERY|LEVEL|LOUD") == [b"ERROR|bad level"]
    assert query(server.query_port, "QUERY|colour=red") == [b"ERROR|unknown key 'colour'"]
    assert query(server.query_port, "HELLO") == [b"ERROR|unknown command"]


def test_lines_split_at_every_byte(server: netlab.LogServer) -> None:
    line = b"LOG|NOTICE|2026-01-02T03:04:05.678+01:00|dripped one byte at a time\n"
    with connect(server.port) as sock:
        for i in range(len(line)):
            sock.sendall(line[i:i + 1])
            time.sleep(0.001)
        assert read_lines(sock, 1) == [b"OK|1"]
    server.flush()
    row = server.query("dripped")[0]
    assert row["timestamp"] == "2026-01-02T02:04:05.678Z" and row["level"] == "NOTICE"


def test_oversize_message_is_kept_truncated_and_flagged(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          max_message=1000) as s:
        with connect(s.port) as sock:
            sock.sendall(b"LOG|INFO|1|" + b"x" * 5000 + b"\nLOG|INFO|1|after\n")
            assert read_lines(sock, 2) == [b"OK|1", b"OK|2"]
            # A line longer than the input bound arrives in pieces: still one log.
            sock.sendall(b"LOG|INFO|1|" + b"y" * 3_000_000 + b"\n")
            assert read_lines(sock, 1) == [b"OK|3"]
        s.flush()
        rows = s.query(limit=10)
        assert [r["truncated"] for r in rows] == [True, False, True]
        assert 900 < len(rows[0]["message"]) <= 1064 and rows[1]["message"] == "after"
        assert s.stats()["ingest"]["truncated"] == 2


def test_durable_acks_keep_line_order(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"), ack="durable",
                          commit_delay=0.05) as s:
        with connect(s.port) as sock:
            sock.sendall(b"LOG|INFO|1|a\nBOGUS\nLOG|INFO|1|b\nLOG:1:INFO:c\n")
            assert read_lines(sock, 4) == [b"OK|1", b"ERROR|unknown command", b"OK|2", b"ACK"]
        # Acknowledged means committed: visible to a query without a flush.
        assert [r["message"] for r in s.query()] == ["a", "b", "c"]


def test_answers_waiting_behind_a_commit_bound_what_is_read(tmp_path: Path) -> None:
    """A client that pipelines lines without reading their answers, behind a durable LOG whose
    commit is slow: the server stops reading once its bound of waiting answers is reached,
    instead of holding an answer for every line; once the commit lands, all are answered."""
    lines = 300_000
    payload = b"LOG|INFO|1|first\n" + b"x\n" * lines
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          ack="durable", commit_delay=1.0) as s:
        with connect(s.port, timeout=30) as sock:
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            time.sleep(0.5)  # the commit is still waiting; every line is in the kernel
            read = s.stats()["ingest"]["bytes_in"]
            assert read < len(payload) // 4, f"{read} bytes read of {len(payload)}"
            chunks, count = [], 0
            while count < lines + 1:
                chunk = sock.recv(1 << 20)
                assert chunk, "closed before every line was answered"
                chunks.append(chunk)
                count += chunk.count(b"\n")
            sender.join(10)
    got = b"".join(chunks).split(b"\n")
    assert got[0] == b"OK|1" and got[1:lines + 1] == [b"ERROR|unknown command"] * lines


def test_the_writer_queue_is_bounded_in_bytes(tmp_path: Path) -> None:
    """Large messages faster than the writer commits them: reading stops once 64 MiB of them
    wait (not only at 20,000 records, which at max_message could be hundreds of gigabytes),
    and nothing is lost."""
    count, size = 100, 1 << 20
    payload = b"".join(b"LOG|INFO|1|%d " % i + b"m" * (size - 100) + b"\n" for i in range(count))
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          max_message=size, commit_delay=0.25) as s:
        with connect(s.port, timeout=60) as sock:
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            # Once behind, reading waits for the queue to drain to 16 MiB: 12 commits of 4 MiB.
            time.sleep(0.7)
            read = s.stats()["ingest"]["bytes_in"]
            assert read < 80 << 20, f"{read >> 20} MiB read of {len(payload) >> 20} MiB"
            sender.join(60)
            answers = read_lines(sock, count)
        assert all(a.startswith(b"OK|") for a in answers)
        s.flush()
        assert len(s.query(limit=count + 1)) == count


def flood(s: netlab.LogServer, lines: list[bytes], watch: str) -> tuple[list[bytes], int]:
    """Sends every line at once from one thread while reading the replies, and samples the
    store statistic `watch` meanwhile: the replies and the statistic's peak."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], s.stats()["ingest"][watch])
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    with connect(s.port, timeout=60) as sock:
        sender = threading.Thread(target=sock.sendall, args=(b"".join(lines),))
        sender.start()
        replies = read_lines(sock, len(lines))
        sender.join()
    done.set()
    sampler.join()
    return replies, peak[0]


def test_writer_behind_pauses_ingest(tmp_path: Path) -> None:
    """A slow disk (every commit waits) pauses reading; the queue stays bounded and every log
    is acknowledged in the end."""
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          commit_delay=0.1) as s:
        total = 60_000
        replies, peak = flood(s, [b"LOG|INFO|1|message %d\n" % i for i in range(total)],
                              "store_queued")
        assert replies[-1] == b"OK|%d" % total
        assert 20_000 <= peak < 30_000, peak
        s.flush()
        assert s.stats()["ingest"]["store_logs"] == total


def test_index_behind_pauses_ingest(tmp_path: Path) -> None:
    """A slow index (every batch it reads from the journal waits): the journal takes logs until
    max_index_lag bytes wait for the index, then ingest pauses; nothing is lost, queries see
    every log meanwhile, and the index catches up."""
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          index_delay=0.1, max_index_lag=1 << 20) as s:
        total, pad = 20_000, b"x" * 1000
        replies, peak = flood(s, [b"LOG|INFO|1|%d %s\n" % (i, pad) for i in range(total)],
                              "store_unindexed")
        assert replies[-1] == b"OK|%d" % total
        # 1 MiB of ~1 KiB logs, plus the batch the writer was on and the one being indexed.
        assert 0 < peak < 12_000, peak
        s.flush()
        assert [r["id"] for r in s.query(limit=3)] == [total - 2, total - 1, total]
        s.wait_indexed()
        stats = s.stats()["ingest"]
        assert stats["store_logs"] == total and stats["store_unindexed"] == 0
        assert stats["store_index_errors"] == 0
        assert len(s.query("19999")) == 1


def test_python_query_filters(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs")) as s:
        with connect(s.port) as sock:
            for i in range(50):
                level = "ERROR" if i % 10 == 0 else "INFO"
                sock.sendall(f"LOG|{level}|{1_700_000_000 + i}|event {i} payment-service\n"
                             .encode())
            read_lines(sock, 50)
        s.flush()
        assert [r["message"] for r in s.query(level="ERROR")] == [
            f"event {i} payment-service" for i in range(0, 50, 10)]
        assert len(s.query("payment", limit=7)) == 7
        assert s.query("payment", limit=7)[-1]["id"] == 50  # the newest, oldest first
        window = s.query(since=1_700_000_010, until="2023-11-14T22:13:40Z")
        assert [r["time"] for r in window] == [1_700_000_010.0 + i for i in range(10)]
        assert s.query('"quoted" OR -x') == []  # a keyword is a phrase, never query syntax
        frame = s.query("event", dataframe=True, limit=3)
        assert list(frame["id"]) == [48, 49, 50]
        with pytest.raises(ValueError, match="unknown level"):
            s.query(level="LOUD")


def test_store_is_shared_and_survives_restart(tmp_path: Path) -> None:
    data = str(tmp_path / "logs")
    with netlab.LogServer(0, query_port=0, syslog_port=None, data_dir=data) as s:
        with connect(s.port) as sock:
            sock.sendall(b"LOG|INFO|1|first life\n")
            read_lines(sock, 1)
    with netlab.LogServer(0, query_port=0, syslog_port=None, data_dir=data) as s:
        with connect(s.port) as sock:
            sock.sendall(b"LOG|INFO|1|second life\n")
            assert read_lines(sock, 1) == [b"OK|2"]  # ids go on from the store
        s.flush()
        assert [r["message"] for r in s.query()] == ["first life", "second life"]
        assert query(s.query_port, "QUERY|KEYWORD|life")[0] == b"RESULT|2"


def test_durable_acks_survive_sigkill(tmp_path: Path) -> None:
    """Kill the server with SIGKILL at random moments under load: every acknowledged id is
    in the store after a restart."""
    data = str(tmp_path / "logs")
    acked: set[int] = set()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for round_ in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "netlab", "serve", "logs", "--port", str(port),
             "--query-port", "-1", "--syslog-port", "-1", "--data-dir", data, "--ack",
             "durable"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert "listening" in proc.stdout.readline()
        stop = threading.Event()

        def load() -> None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    buffered = b""
                    i = 0
                    while not stop.is_set():
                        sock.sendall(b"".join(b"LOG|INFO|1|round %d line %d\n" % (round_, i + k)
                                              for k in range(200)))
                        i += 200
                        chunk = sock.recv(65536)
                        if not chunk:
                            return
                        buffered += chunk
                        *lines, buffered = buffered.split(b"\n")
                        acked.update(int(l[3:]) for l in lines if l.startswith(b"OK|"))
            except OSError:
                return  # the server was killed

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(random.uniform(0.3, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        loader.join(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert len(acked) > 1000
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=data) as s:
        stored = {r["id"] for r in s.query(limit=10_000_000)}
    missing = acked - stored
    assert not missing, f"{len(missing)} acknowledged logs lost, e.g. {sorted(missing)[:5]}"


def test_cli_serve_logs(tmp_path: Path) -> None:
    from conftest import CliServer

    with CliServer("logs", "--data-dir", str(tmp_path / "logs"), "--query-port", "0",
                   "--syslog-port", "0") as s:
        assert "queries on" in s.banner
        with connect(s.port) as sock:
            sock.sendall(b"LOG|INFO|1|from the cli\n")
            assert read_lines(sock, 1) == [b"OK|1"]
        code, out = s.stop()
        assert code == 0


def test_nc_sends_and_half_closes(tmp_path: Path) -> None:
    """nc -N sends, half-closes, and still gets its durable answer (the README's example)."""
    import shutil
    if not shutil.which("nc"):
        pytest.skip("nc is not installed")
    with netlab.LogServer(0, query_port=0, syslog_port=None, data_dir=str(tmp_path / "logs"), ack="durable",
                          commit_delay=0.05) as s:
        sent = subprocess.run(["nc", "-N", "127.0.0.1", str(s.port)],
                              input=b"LOG|ERROR|2026-11-23T10:00:00Z|disk full on /var\n",
                              capture_output=True, timeout=30)
        assert sent.stdout == b"OK|1\n"
        asked = subprocess.run(["nc", "-N", "127.0.0.1", str(s.query_port)],
                               input=b"QUERY|KEYWORD|disk\n", capture_output=True, timeout=30)
        assert asked.stdout == (b"RESULT|1\n1|ERROR|2026-11-23T10:00:00.000Z|disk full on /var\n"
                                b"END\n")


def frame(command: int, sequence: int, payload: bytes = b"") -> bytes:
    import struct
    return struct.pack("!BBHI", 1, command, len(payload), sequence) + payload


def read_frame(sock: socket.socket, buffered: bytearray) -> tuple[int, int, bytes]:
    import struct
    while len(buffered) < 8 or len(buffered) < 8 + struct.unpack("!H", buffered[2:4])[0]:
        chunk = sock.recv(65536)
        assert chunk, "closed"
        buffered += chunk
    version, command, length, sequence = struct.unpack("!BBHI", bytes(buffered[:8]))
    payload = bytes(buffered[8:8 + length])
    del buffered[:8 + length]
    assert version == 1
    return command, sequence, payload


@pytest.mark.parametrize("ack", ["received", "durable"])
def test_binary_protocol(tmp_path: Path, ack: str) -> None:
    import struct
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          ack=ack) as s:
        message = b"binary hello"
        log = struct.pack("!BIH", 3, 1_795_428_000, len(message)) + message
        with connect(s.port) as sock:
            buffered = bytearray()
            sock.sendall(frame(1, 77, log) + frame(3, 78) + frame(1, 79, b"\x09short") +
                         frame(9, 80) + frame(4, 81))
            assert read_frame(sock, buffered) == (1, 77, b"\x00" + struct.pack("!Q", 1))
            assert read_frame(sock, buffered) == (3, 78, b"")
            assert read_frame(sock, buffered) == (1, 79, b"\x01malformed LOG payload")
            assert read_frame(sock, buffered) == (9, 80, b"\x01unknown command")
            command, sequence, stats = read_frame(sock, buffered)
            assert (command, sequence) == (4, 81) and stats.startswith(b"received=1\n")
            assert b"\nunindexed=" in stats
            s.flush()
            sock.sendall(frame(2, 82, b"KEYWORD|binary"))
            assert read_frame(sock, buffered) == (
                2, 82, b"1|ERROR|2026-11-23T10:00:00.000Z|binary hello")
            assert read_frame(sock, buffered) == (2, 82, b"")
            sock.sendall(b"\x02" + b"\x00" * 7)  # another version: the stream cannot go on
            assert sock.recv(100) == b""
        assert s.query()[0]["message"] == "binary hello"


def test_tail_streams_matching_logs(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=0, syslog_port=None,
                          data_dir=str(tmp_path / "logs")) as s:
        with connect(s.query_port) as tail, connect(s.port) as ingest:
            tail.sendall(b"TAIL|keyword=payment failed|max_level=error\n")
            assert read_lines(tail, 1) == [b"TAILING"]
            ingest.sendall(b"LOG|ERROR|1|Payment FAILED for order 7\n"
                           b"LOG|INFO|1|payment failed but only info\n"
                           b"LOG|CRIT|1|no keyword here\n"
                           b"LOG|ERROR|1|payment-failed: dashes split words too\n")
            read_lines(ingest, 4)
            rows = read_lines(tail, 2)
            assert rows[0].endswith(b"|ERROR|1970-01-01T00:00:01.000Z|Payment FAILED for order 7")
            assert rows[1].startswith(b"4|ERROR|")
            tail.sendall(b"TAIL|\n")
            assert read_lines(tail, 1) == [b"ERROR|already tailing"]


def test_slow_tail_client_is_dropped(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=0, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          max_tail_queue=17 << 20) as s:
        slow = socket.create_connection(("127.0.0.1", s.query_port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"TAIL|\n")
        time.sleep(0.2)
        big = b"LOG|INFO|1|" + b"z" * 150_000 + b"\n"
        with connect(s.port) as ingest:
            for _ in range(200):  # 30 MB of tail output, never read
                ingest.sendall(big)
            read_lines(ingest, 200)
            # As chat's members: a burst may pass the bound while the reader could still be
            # draining it; the next log that finds the tail stalled drops it.
            time.sleep(0.7)
            ingest.sendall(big)
            read_lines(ingest, 1)
        wait_until(lambda: s.stats()["query"]["closes"]["slow_consumer"] == 1,
                   what="the slow tail dropped")
        with connect(s.query_port) as other:  # the port serves others meanwhile
            other.sendall(b"QUERY|limit=1\n")
            assert read_lines(other, 1) == [b"RESULT|1"]
        slow.close()


def test_log_handler(tmp_path: Path) -> None:
    import logging
    with netlab.LogServer(0, query_port=None, syslog_port=None,
                          data_dir=str(tmp_path / "logs")) as s:
        logger = logging.getLogger("netlab-test-handler")
        logger.propagate = False
        handler = netlab.LogHandler("127.0.0.1", s.port)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            logger.warning("disk at %d%%", 91)
            logger.error("two\nlines")
            logger.debug("fine detail")
            handler.flush()
        finally:
            logger.removeHandler(handler)
            handler.close()
        assert handler.sent == 3 and handler.dropped == 0
        s.flush()
        rows = s.query()
        assert {r["app"] for r in rows} == {"netlab-test-handler"}
        assert [(r["level"], r["message"]) for r in rows] == [
            ("WARN", "netlab-test-handler: disk at 91%"),
            ("ERROR", "netlab-test-handler: two\nlines"),
            ("DEBUG", "netlab-test-handler: fine detail")]


def test_log_handler_never_blocks_when_the_server_is_away(tmp_path: Path) -> None:
    import logging
    handler = netlab.LogHandler("127.0.0.1", free_port(), max_queue=100, close_timeout=0.1)
    logger = logging.getLogger("netlab-test-away")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        start = time.monotonic()
        for i in range(1000):
            logger.error("nobody listens %d", i)
        assert time.monotonic() - start < 1.0
        assert handler.dropped == 900
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_one_process_writes_a_store(tmp_path: Path) -> None:
    """Ids come from the store when it opens: a second process on the same directory is
    refused instead of handing out the same ids."""
    import errno
    from conftest import CliServer

    data = str(tmp_path / "logs")
    with CliServer("logs", "--data-dir", data, "--query-port", "-1", "--syslog-port", "-1"):
        with pytest.raises(OSError) as busy:
            netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=data)
        assert busy.value.errno == errno.EBUSY and "in use by another process" in str(busy.value)


def test_a_store_of_an_earlier_version_is_refused_not_hidden(tmp_path: Path) -> None:
    """An earlier netlab kept indexed logs only in logs.db: opening its directory as a new
    store would hide them, so it is refused with what to do."""
    import sqlite3

    data = tmp_path / "old"
    data.mkdir()
    sqlite3.connect(data / "logs.db").execute("CREATE TABLE logs(id INTEGER PRIMARY KEY)").close()
    with pytest.raises(ValueError, match="earlier netlab .*give another data_dir"):
        netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(data))
    assert not (data / "index.db").exists()


def test_retention_by_age_and_size(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "age"),
                          retention=3) as s:
        # Retention runs once a second, idle or not: the old logs go within a second of
        # expiring, and "new" stays for 3 s, time enough to see it alone on a busy machine.
        with connect(s.port) as sock:
            sock.sendall(b"".join(b"LOG|INFO|1|old %d\n" % i for i in range(100)))
            read_lines(sock, 100)
            time.sleep(3.5)
            sock.sendall(b"LOG|INFO|1|new\n")
            read_lines(sock, 1)
        s.flush()
        wait_until(lambda: [r["message"] for r in s.query()] == ["new"],
                   what="the old logs deleted")
        assert s.query("old") == []  # gone from keyword queries too
        assert s.stats()["ingest"]["store_deleted"] == 100
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "size"),
                          max_store_bytes=2_000_000) as s:
        line = b"LOG|INFO|1|" + b"w " * 100 + b"%d\n"
        with connect(s.port) as sock:
            for round_ in range(10):
                sock.sendall(b"".join(line % (round_ * 2000 + i) for i in range(2000)))
                read_lines(sock, 2000)
                time.sleep(0.15)
        s.flush()
        time.sleep(1.1)
        with connect(s.port) as sock:  # one more commit lets retention catch up
            sock.sendall(b"LOG|INFO|1|last\n")
            read_lines(sock, 1)
        s.flush()
        s.wait_indexed()  # retention runs on the indexer, after each indexed batch
        kept = s.query(limit=100_000)
        assert 0 < len(kept) < 20_001 and kept[-1]["message"] == "last"
        assert kept[0]["id"] > 1  # the oldest went first
        assert s.stats()["ingest"]["store_deleted"] == 20_001 - len(kept)
