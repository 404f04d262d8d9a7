"""The load generator reports only the success it saw: starved connections, unanswered
requests, mismatches with what came back, and Ctrl+C, against classic servers netlab did
not write."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest

import netlab
from netlab import ChatClient
from classic_servers import (CappedSelectEchoServer, IterativeEchoServer, SelectChatServer,
                             SilentServer)


def bench(port: int, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netlab", "bench", f"127.0.0.1:{port}", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_capped_server_starves_half_the_connections_and_the_run_fails() -> None:
    with CappedSelectEchoServer(cap=10) as server:
        run = bench(server.port, "-c", "20", "-t", "1", "--duration", "2", "--json")
    result = json.loads(run.stdout)
    assert result["never_answered"] == 10
    assert result["connections"] == 20
    assert result["unanswered"] == 10  # one request each, still waiting at the end
    assert result["success_rate"] < 1.0
    assert run.returncode == 1
    last = result["timeline"][-1]
    assert last["unanswered"] == 10 and last["never_answered"] == 10


def test_capped_server_summary_names_the_starved_connections() -> None:
    with CappedSelectEchoServer(cap=10) as server:
        run = bench(server.port, "-c", "20", "-t", "1", "--duration", "1", "--timeout", "2")
    assert run.returncode == 1
    # At least the 10 the server never took (more if it was slow to take the others).
    starved = re.search(r"NEVER ANSWERED: (\d+) of 20 connections", run.stdout)
    assert starved and int(starved.group(1)) >= 10, run.stdout
    assert "success 100.00%" not in run.stdout


def test_never_answered_can_be_allowed_but_still_counts() -> None:
    with CappedSelectEchoServer(cap=10) as server:
        run = bench(server.port, "-c", "11", "-t", "1", "--duration", "2",
                    "--allow-never-answered", "--max-error-rate", "100", "--json")
    assert run.returncode == 0
    assert json.loads(run.stdout)["never_answered"] == 1


def test_iterative_server_serves_one_of_ten() -> None:
    with IterativeEchoServer() as server:
        result = netlab.LoadGenerator("127.0.0.1", server.port, connections=10, threads=1,
                                      duration=1.5).run()
    assert result.never_answered == 9
    assert result.responses > 0
    assert result.success_rate < 1.0
    assert "NEVER ANSWERED: 9 of 10" in result.summary()


def test_requests_in_flight_at_the_end_are_counted_after_a_short_drain() -> None:
    with SilentServer() as server:
        started = time.monotonic()
        result = netlab.LoadGenerator("127.0.0.1", server.port, connections=5, threads=1,
                                      duration=1, response_timeout=10).run()
        elapsed = time.monotonic() - started
    assert result.responses == 0 and result.errors == 0
    assert result.unanswered == 5 and result.never_answered == 5
    assert result.unanswered_oldest_ms >= 900
    assert result.success_rate == 0.0
    assert elapsed < 4, "the drain must be short (min(timeout, 1 s)), not the response timeout"
    summary = result.summary()
    assert "n/a" in summary  # no responses: nothing to divide CPU or syscalls by
    assert "UNANSWERED: 5 requests" in summary


def test_healthy_run_drains_cleanly(echo_server: netlab.EchoServer) -> None:
    result = netlab.LoadGenerator("127.0.0.1", echo_server.port, connections=20, threads=2,
                                  duration=1).run()
    assert result.unanswered == 0 and result.never_answered == 0 and result.errors == 0
    assert result.success_rate == 1.0
    assert 0.9 <= result.duration <= 1.3  # rates are over the sending time, not the drain
    assert all(p["inflight"] <= 20 for p in result.timeline)


def test_line_mismatch_shows_expected_and_got() -> None:
    with netlab.PingPongServer(port=0) as server:
        result = netlab.LoadGenerator("127.0.0.1", server.port, scenario="line",
                                      request=b"hello", expect=b"pong", connections=1,
                                      threads=1, requests=1, duration=None).run()
    message = result.error_messages["mismatch"]
    assert "expected 'pong'" in message and "got 'received: hello'" in message


def test_ctrl_c_prints_the_partial_summary() -> None:
    with netlab.EchoServer(port=0) as server:
        proc = subprocess.Popen([sys.executable, "-m", "netlab", "bench",
                                 f"127.0.0.1:{server.port}", "-c", "4", "--duration", "30"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert "Speed:" in out and "responses" in out
    assert "interrupted" in err
    assert "Traceback" not in err


def test_chat_scenario_against_a_classic_broadcast_server() -> None:
    with SelectChatServer() as server:
        result = netlab.LoadGenerator("127.0.0.1", server.port, scenario="chat", connections=5,
                                      threads=1, rate=100, duration=1.5).run()
    assert result.errors == 0
    # Every line reaches the 4 other clients; the last few may be cut off by the end.
    assert 0.8 * 4 * result.requests <= result.responses <= 4 * result.requests
    assert result.never_answered == 0


def test_chat_client_and_cli_against_a_classic_broadcast_server() -> None:
    with SelectChatServer() as server:
        started = time.monotonic()
        with ChatClient("127.0.0.1", server.port) as a, ChatClient("127.0.0.1", server.port) as b:
            assert time.monotonic() - started < 5, "waited for a welcome line that never comes"
            assert a.nick is None
            time.sleep(0.2)  # both registered with the server
            a.send("hello classic")
            assert b.recv(timeout=5).endswith("hello classic")
            run = subprocess.run([sys.executable, "-m", "netlab", "chat",
                                  f"127.0.0.1:{server.port}"], input="from the cli\n",
                                 capture_output=True, text=True, timeout=20)
            assert run.returncode == 0, run.stderr
            assert b.recv(timeout=5).endswith("from the cli")
        assert time.monotonic() - started < 10
