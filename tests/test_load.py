"""The load generator against netlab's servers, an independent asyncio server, and peers that
misbehave in each way the generator must count."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

import netlab
from netlab import LoadGenerator
from netlab.codecs import HeaderCodec, LengthPrefixCodec
from conftest import ThreadedTcpServer, free_port, wait_until


def test_echo_against_netlab_server_counts_match(model_options: dict) -> None:
    with netlab.EchoServer(port=0, **model_options) as server:
        result = LoadGenerator("127.0.0.1", server.port, connections=20, duration=1.0,
                               size=100).run()
        wait_until(lambda: server.stats()["connections_active"] == 0, what="closed")
        stats = server.stats()
    assert result.errors == 0 and result.responses > 100
    assert result.success_rate == 1.0
    assert stats["bytes_in"] == result.bytes_out  # every byte the generator sent arrived
    assert result.bytes_in == result.responses * 100
    assert result.latency_ms["p50"] > 0
    assert result.latency_ms["p50"] <= result.latency_ms["p99"] <= result.latency_ms["max"]
    assert result.speed_line().startswith("Speed: ")


class AsyncioEchoServer:
    """An echo server that shares no code with netlab, on its own event loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    @staticmethod
    async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(self._echo, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(server.wait_closed())
        loop.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_echo_against_independent_asyncio_server() -> None:
    server = AsyncioEchoServer()
    try:
        result = LoadGenerator("127.0.0.1", server.port, connections=10, threads=1,
                               requests=2000, duration=None, size=300, pipeline=4).run()
    finally:
        server.close()
    assert result.responses == 2000 and result.errors == 0
    assert result.requests == 2000


def test_line_scenario_ping_pong() -> None:
    with netlab.PingPongServer(port=0) as server:
        result = LoadGenerator("127.0.0.1", server.port, scenario="line", request=b"ping",
                               expect=b"pong", connections=10, requests=1000,
                               duration=None).run()
        assert server.stats()["messages_in"] == 1000
    assert result.responses == 1000 and result.errors == 0


def test_line_scenario_detects_wrong_answers() -> None:
    with netlab.PingPongServer(port=0) as server:
        result = LoadGenerator("127.0.0.1", server.port, scenario="line", request=b"hello",
                               expect=b"pong", connections=2, requests=10, duration=5).run()
    assert result.responses == 0
    assert result.errors_by_kind["mismatch"] == 10
    assert "differs" in result.error_messages["mismatch"]


@pytest.mark.parametrize("codec", [LengthPrefixCodec(), HeaderCodec()], ids=["length", "header"])
def test_framed_scenario(codec) -> None:
    with netlab.EchoServer(port=0, codec=codec) as server:
        result = LoadGenerator("127.0.0.1", server.port, scenario="framed", codec=codec,
                               size=500, connections=8, requests=800, duration=None,
                               pipeline=3).run()
        assert server.stats()["messages_in"] == 800
    assert result.responses == 800 and result.errors == 0


def test_connect_scenario_opens_a_connection_per_request() -> None:
    with netlab.PingPongServer(port=0) as server:
        result = LoadGenerator("127.0.0.1", server.port, scenario="connect", request=b"ping\n",
                               expect=b"pong\n", connections=4, requests=200,
                               duration=None).run()
        wait_until(lambda: server.stats()["connections_active"] == 0, what="closed")
        assert server.stats()["connections_total"] == 200
    assert result.responses == 200 and result.errors == 0
    assert result.connections_opened == 200
    assert result.syscalls["connect"] == 200


def test_request_budget_is_exact_and_the_run_ends() -> None:
    with netlab.EchoServer(port=0) as server:
        result = LoadGenerator("127.0.0.1", server.port, connections=7, threads=2,
                               requests=1001, duration=None, pipeline=5).run()
    assert result.requests == result.responses == 1001


def test_refused_when_no_server() -> None:
    result = LoadGenerator("127.0.0.1", free_port(), connections=3, requests=12,
                           duration=10).run()
    assert result.responses == 0
    assert result.errors_by_kind["refused"] == 12
    assert "Connection refused" in result.error_messages["refused"]
    assert result.duration < 10  # the budget, not the duration, ended it


def test_timeout_when_server_never_answers() -> None:
    def swallow(conn: socket.socket) -> None:
        while conn.recv(65536):
            pass

    with ThreadedTcpServer(swallow) as peer:
        result = LoadGenerator("127.0.0.1", peer.port, connections=2, duration=1.5,
                               response_timeout=0.3).run()
    assert result.responses == 0
    assert result.errors_by_kind["timeout"] >= 2
    assert result.errors == result.errors_by_kind["timeout"]


def test_closed_when_server_hangs_up_mid_reply() -> None:
    def half_then_close(conn: socket.socket) -> None:
        data = conn.recv(64)
        conn.sendall(data[: len(data) // 2])
        conn.close()

    with ThreadedTcpServer(half_then_close) as peer:
        result = LoadGenerator("127.0.0.1", peer.port, connections=2, requests=6,
                               duration=10, size=64).run()
    assert result.responses == 0
    assert result.errors_by_kind["closed"] == 6


def test_mismatch_when_server_answers_wrong_bytes() -> None:
    def corrupt(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            conn.sendall(bytes(b ^ 1 for b in data))

    with ThreadedTcpServer(corrupt) as peer:
        result = LoadGenerator("127.0.0.1", peer.port, connections=2, requests=8,
                               duration=10).run()
    assert result.errors_by_kind["mismatch"] == 8
    assert result.responses == 0


def test_open_loop_rate_is_held_within_five_percent() -> None:
    with netlab.EchoServer(port=0) as server:
        result = LoadGenerator("127.0.0.1", server.port, connections=50, rate=2000,
                               duration=5).run()
    achieved = result.responses / result.duration
    assert 1900 <= achieved <= 2100, achieved
    assert result.errors == 0
    full_seconds = [s for s in result.timeline if s["second"] < 5]
    assert len(full_seconds) == 5
    assert all(1800 <= s["responses"] <= 2200 for s in full_seconds), full_seconds


def test_open_loop_reveals_a_stall_that_closed_loop_hides() -> None:
    stalled = threading.Event()

    def echo_with_one_stall(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            if not stalled.is_set() and time.monotonic() > start + 1.0:
                stalled.set()
                time.sleep(0.5)  # every connection of this peer waits: one thread, one lock
            with lock:
                conn.sendall(data)

    lock = threading.Lock()
    start = time.monotonic()
    with ThreadedTcpServer(echo_with_one_stall) as peer:
        start = time.monotonic()
        result = LoadGenerator("127.0.0.1", peer.port, connections=1, threads=1, rate=500,
                               duration=3).run()
    corrected, raw = result.latency_ms, result.latency_uncorrected_ms
    assert result.errors == 0
    # ~250 requests were due during the 0.5 s stall: corrected latency counts their wait,
    # uncorrected sees one slow request.
    assert corrected["p99"] > 100, corrected
    assert raw["p99"] < corrected["p99"] / 5, (raw, corrected)
    assert raw["max"] >= 400


def test_5000_connections_held_without_errors() -> None:
    with netlab.EchoServer(port=0) as server:
        gen = LoadGenerator("127.0.0.1", server.port, connections=5000, threads=2, duration=4,
                            think_time=0.5, connect_timeout=10)
        peak = 0
        with gen:
            deadline = time.monotonic() + 10
            while not gen.finished and time.monotonic() < deadline:
                peak = max(peak, server.stats()["connections_active"])
                time.sleep(0.05)
        result = gen.result()
    assert peak == 5000
    assert result.connections_opened == 5000
    assert result.errors == 0 and result.responses >= 5000


def test_progress_callback_and_timeline() -> None:
    seen = []
    with netlab.EchoServer(port=0) as server:
        result = LoadGenerator("127.0.0.1", server.port, connections=4, duration=2.5).run(
            progress=seen.append)
    assert [s["second"] for s in seen] == [0, 1, 2]
    assert all(s["responses"] > 0 and s["p99_ms"] > 0 for s in seen[:2])
    assert [s["second"] for s in result.timeline] == [0, 1, 2]
    assert sum(s["responses"] for s in result.timeline) == result.responses
    # The run's corrected histogram is the seconds' histograms joined: every response is in
    # it once, and its slowest is the slowest second's (a second joined from several workers
    # knows its slowest to within its histogram bucket, 1/128).
    assert result.latency_ms["count"] == result.responses
    assert result.latency_uncorrected_ms["count"] == result.responses
    slowest = max(s["max_ms"] for s in result.timeline)
    assert abs(result.latency_ms["max"] - slowest) <= result.latency_ms["max"] / 128
    d = json.loads(result.to_json())
    assert d["responses"] == result.responses and len(d["timeline"]) == 3


def test_start_poll_stop() -> None:
    with netlab.EchoServer(port=0) as server:
        gen = LoadGenerator("127.0.0.1", server.port, connections=4, duration=30).start()
        time.sleep(0.5)
        live = gen.poll()
        assert live["responses"] > 0 and not live["finished"]
        started = time.monotonic()
        gen.stop()
        assert gen.wait(5)
        assert time.monotonic() - started < 2
        result = gen.result()
    assert result.duration < 5 and result.responses >= live["responses"]


def _threads_of_this_process() -> int:
    import os
    return len(os.listdir("/proc/self/task"))


def test_one_thread_runs_on_the_calling_thread_and_another_can_stop_it() -> None:
    """threads=1: run() drives the loop itself (no native thread); stop() from elsewhere ends it."""
    with netlab.EchoServer(port=0) as server:
        before = _threads_of_this_process()
        seen: list[int] = []
        gen = LoadGenerator("127.0.0.1", server.port, connections=8, threads=1, duration=30)
        threading.Timer(1.5, gen.stop).start()
        started = time.monotonic()
        result = gen.run(progress=lambda second: seen.append(_threads_of_this_process()))
        assert time.monotonic() - started < 5
    assert seen and max(seen) <= before + 1  # the +1 is the Timer thread, not a load worker
    assert result.responses > 1000 and result.errors == 0
    assert result.responses == sum(s["responses"] for s in result.timeline)
    assert 0 < result.cpu_seconds < result.duration * 1.5


def test_syscall_and_cpu_figures() -> None:
    with netlab.EchoServer(port=0) as server:
        result = LoadGenerator("127.0.0.1", server.port, connections=4, requests=4000,
                               duration=None).run()
    per = result.syscalls_per_request
    assert 0.9 <= per["read"] <= 2.0 and 0.9 <= per["write"] <= 1.1
    assert per["epoll_wait"] > 0 and result.syscalls["connect"] == 4
    assert result.cpu_seconds > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"scenario": "smtp"}, "unknown scenario 'smtp'"),
    ({"connections": 0}, "connections must be between 1 and 1000000"),
    ({"duration": None}, "give a duration or a request count"),
    ({"scenario": "framed"}, "needs a codec"),
    ({"rate": 100, "think_time": 1}, "closed loop only"),
])
def test_bad_settings_are_value_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoadGenerator("127.0.0.1", 9, **kwargs)


def test_cli_bench_json_and_exit_codes() -> None:
    with netlab.PingPongServer(port=0) as server:
        ok = subprocess.run([sys.executable, "-m", "netlab", "bench", f"127.0.0.1:{server.port}",
                             "--scenario", "line", "--request", "ping", "--expect", "pong",
                             "-c", "4", "-n", "400", "-d", "0", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["responses"] == 400 and report["errors"] == 0
    dead = subprocess.run([sys.executable, "-m", "netlab", "bench", f"127.0.0.1:{free_port()}",
                           "-c", "2", "-n", "4"], capture_output=True, text=True, timeout=60)
    assert dead.returncode == 1
    assert "error refused: 4" in dead.stdout


def test_cli_bench_summary_table() -> None:
    with netlab.EchoServer(port=0) as server:
        run = subprocess.run([sys.executable, "-m", "netlab", "bench", f"127.0.0.1:{server.port}",
                              "-c", "8", "-d", "1", "--rate", "1000"],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Speed: ")
    assert "open loop at 1000 req/s" in run.stdout
    assert "corrected" in run.stdout and "uncorrected" in run.stdout


def test_cli_demo_compares_every_model() -> None:
    run = subprocess.run([sys.executable, "-m", "netlab", "demo", "--duration", "0.5",
                          "--connections", "20"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    table = run.stdout.split("20 connections\n", 1)[1]
    for model in netlab.MODELS:
        row = next(line for line in table.splitlines() if line.startswith(model))
        assert int(row.split()[1].replace(",", "")) > 0  # req/s
        assert row.split()[4] == "0"  # errors


def test_not_enough_file_descriptors_is_a_clear_error() -> None:
    code = ("import resource, netlab\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
            "try:\n"
            "    netlab.LoadGenerator('127.0.0.1', 9, connections=1000)\n"
            "except OSError as e:\n"
            "    print(e.errno, e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert ("24 [Errno 24] 1000 connections need about 1064 file descriptors but RLIMIT_NOFILE "
            "allows 256") in run.stdout, run.stdout + run.stderr


def test_the_percentile_distribution_is_the_histograms_from_min_to_max() -> None:
    """HdrHistogram's percentile distribution, for HDR plots: 0 is the minimum, 100 the
    maximum, 50 and 99 agree with latency_ms, and ticks get finer towards the tail."""
    with netlab.EchoServer(port=0) as server:
        result = netlab.LoadGenerator("127.0.0.1", server.port, connections=10, threads=1,
                                      requests=4000, duration=None, rate=8000).run()
    for points, summary in ((result.percentiles_ms, result.latency_ms),
                            (result.percentiles_uncorrected_ms, result.latency_uncorrected_ms)):
        percentiles = [p for p, _ in points]
        values = [v for _, v in points]
        assert percentiles[0] == 0 and percentiles[-1] == 100
        assert percentiles == sorted(percentiles) and values == sorted(values)
        assert values[0] == summary["min"] and values[-1] == summary["max"]
        by_percentile = dict(points)
        assert by_percentile[50.0] == summary["p50"]
        assert 99.9 < percentiles[-2] < 100  # down to about one in count
        gaps = [b - a for a, b in zip(percentiles[1:], percentiles[2:-1])]
        assert gaps == sorted(gaps, reverse=True)
    assert json.loads(result.to_json())["percentiles_ms"][0][0] == 0
