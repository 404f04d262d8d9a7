"""Real Locust processes against real netlab servers, headless, single and distributed."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import netlab
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = str(ROOT / "locust" / "tcp.py")


def locust(*args: str, users: str = "PingUser", env: dict | None = None,
           timeout: float = 90) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, NETLAB_USERS=users, **(env or {}))
    return subprocess.run([sys.executable, "-m", "locust", "-f", LOCUSTFILE, *args],
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def stats(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("users, server_cls, name", [
    ("PingUser", netlab.PingPongServer, "ping"),
    ("ConstantPingUser", netlab.PingPongServer, "ping"),
    ("EchoUser", netlab.EchoServer, "echo"),
])
def test_headless_run_against_each_server(tmp_path: Path, users: str, server_cls,
                                          name: str) -> None:
    with server_cls(port=0) as server:
        run = locust("--headless", "-u", "50", "-r", "25", "-t", "5s", "--host",
                     f"tcp://127.0.0.1:{server.port}", "--csv", str(tmp_path / "run"),
                     users=users)
    assert run.returncode == 0, run.stderr[-2000:]
    row = stats(tmp_path / "run")[name]
    assert int(row["Request Count"]) > 50
    assert int(row["Failure Count"]) == 0
    # Loopback round trips: well under 100 ms on average, and not zero (sub-ms is kept).
    assert 0 < float(row["Average Response Time"]) < 100
    assert float(row["Min Response Time"]) < 1


def test_log_user_against_a_durable_log_server(tmp_path: Path) -> None:
    with netlab.LogServer(0, query_port=None, syslog_port=None, data_dir=str(tmp_path / "logs"),
                          ack="durable") as server:
        run = locust("--headless", "-u", "20", "-r", "20", "-t", "4s", "--host",
                     f"tcp://127.0.0.1:{server.port}", "--csv", str(tmp_path / "run"),
                     users="LogUser")
        server.flush()
        stored = server.stats()["ingest"]["store_logs"]
    assert run.returncode == 0, run.stderr[-2000:]
    row = stats(tmp_path / "run")["log"]
    assert int(row["Request Count"]) > 50 and int(row["Failure Count"]) == 0
    # Every answered log is on disk (Locust's CSV may miss its last second's requests).
    assert stored >= int(row["Request Count"])


def test_server_gone_mid_run_counts_failures_and_exits_non_zero(tmp_path: Path) -> None:
    with netlab.PingPongServer(port=0) as server:
        # The server passes the start-up check, then goes away while the users run.
        threading.Timer(1.5, server.stop).start()
        run = locust("--headless", "-u", "5", "-r", "5", "-t", "3s", "--host",
                     f"tcp://127.0.0.1:{server.port}", "--csv", str(tmp_path / "run"),
                     users="ConstantPingUser", timeout=60)
    assert run.returncode != 0
    row = stats(tmp_path / "run")["ping"]
    assert int(row["Request Count"]) > 0 and int(row["Failure Count"]) > 0
    assert "refused: connect" in run.stderr + run.stdout


@pytest.mark.parametrize("form", ["bare", "host:port"])
def test_host_forms(tmp_path: Path, form: str) -> None:
    with netlab.PingPongServer(port=0) as server:
        # --host 127.0.0.1 is Locust's classic form: the port comes from NETLAB_PORT.
        host, env = (("127.0.0.1", {"NETLAB_PORT": str(server.port)}) if form == "bare"
                     else (f"127.0.0.1:{server.port}", {}))
        run = locust("--headless", "-u", "5", "-r", "5", "-t", "2s", "--host", host, "--csv",
                     str(tmp_path / "run"), users="ConstantPingUser", env=env, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    row = stats(tmp_path / "run")["ping"]
    assert int(row["Request Count"]) > 10 and int(row["Failure Count"]) == 0


def test_parse_tcp_host_forms() -> None:
    # In a child process: importing Locust monkey-patches the interpreter with gevent.
    code = ("from netlab.locust import parse_tcp_host as p; "
            "print(p('tcp://h:1'), p('h:2'), p('[::1]:3'), p('h', 4), p('[::1]', 5))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, NETLAB_PORT=""))
    assert out.returncode != 0 and "NETLAB_PORT must be a port number" in out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={k: v for k, v in os.environ.items()
                                          if k != "NETLAB_PORT"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == "('h', 1) ('h', 2) ('::1', 3) ('h', 4) ('::1', 5)".split()


@pytest.mark.parametrize("host, reason", [
    ("tcp://127.0.0.1:{closed}", "cannot reach 127.0.0.1:{closed} (connection refused)"),
    ("127.0.0.1:99999", "bad port in --host '127.0.0.1:99999'"),
    ("http://127.0.0.1:80", "expected --host tcp://HOST:PORT, HOST:PORT or HOST"),
])
def test_bad_or_unreachable_host_is_one_line_and_exit_1(host: str, reason: str) -> None:
    closed = free_port()  # nothing listens there
    run = locust("--headless", "-u", "5", "-r", "5", "-t", "3s", "--host",
                 host.format(closed=closed), timeout=60)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-2000:]
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and reason.format(closed=closed) in errors[0], errors


def test_locustfile_can_start_the_server_itself(tmp_path: Path) -> None:
    run = locust("--headless", "-u", "10", "-r", "10", "-t", "3s", "--host",
                 f"tcp://127.0.0.1:{free_port()}", "--csv", str(tmp_path / "run"),
                 users="ConstantPingUser", env={"NETLAB_SERVE": "pingpong"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(stats(tmp_path / "run")["ping"]["Failure Count"]) == 0


def test_distributed_master_and_two_workers(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, NETLAB_USERS="ConstantPingUser")
    with netlab.PingPongServer(port=0) as server:
        host = f"tcp://127.0.0.1:{server.port}"
        master = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--master", "--headless",
             "--expect-workers", "2", "--master-bind-host", "127.0.0.1", "--master-bind-port",
             str(port), "-u", "20", "-r", "20", "-t", "5s", "--host", host, "--csv",
             str(tmp_path / "run")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        workers = [subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--worker", "--master-host",
             "127.0.0.1", "--master-port", str(port)], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            out, err = master.communicate(timeout=90)
            for w in workers:
                w.wait(timeout=30)
        finally:
            for p in [master, *workers]:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for w in workers:
                w.stdout.close()
                w.stderr.close()
        served = server.stats()["messages_in"]
    assert master.returncode == 0, err[-2000:]
    row = stats(tmp_path / "run")["ping"]
    count = int(row["Request Count"])
    # 20 users pacing one request per 50 ms for about 5 s, across both workers.
    assert 800 <= count <= 2400, count
    assert int(row["Failure Count"]) == 0
    assert count <= served  # every counted request really reached the server
    assert "missing" not in err.lower()


def test_no_hub_stall_with_200_users(tmp_path: Path) -> None:
    env = {"GEVENT_MONITOR_THREAD_ENABLE": "true", "GEVENT_MAX_BLOCKING_TIME": "0.1"}
    with netlab.PingPongServer(port=0) as server:
        run = locust("--headless", "-u", "200", "-r", "100", "-t", "6s", "--host",
                     f"tcp://127.0.0.1:{server.port}", "--csv", str(tmp_path / "run"),
                     env=env)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-2000:]
    assert "appears to be blocked" not in output  # gevent's monitor: the hub never stalled
    assert "CPU usage above" not in output
    assert int(stats(tmp_path / "run")["ping"]["Request Count"]) > 500


def test_swarm_user_reports_native_rates(tmp_path: Path) -> None:
    with netlab.PingPongServer(port=0) as server:
        run = locust("--headless", "-u", "1", "-r", "1", "-t", "4s", "--host",
                     f"tcp://127.0.0.1:{server.port}", "--csv", str(tmp_path / "run"),
                     users="SwarmUser", env={"NETLAB_SWARM_CONNECTIONS": "20"})
        served = server.stats()["messages_in"]
    assert run.returncode == 0, run.stderr[-2000:]
    row = stats(tmp_path / "run")["swarm"]
    assert int(row["Request Count"]) > 10_000  # far past what per-request Python events allow
    assert int(row["Request Count"]) <= served
    assert int(row["Failure Count"]) == 0
    assert "netlab swarm: Speed:" in run.stderr  # netlab's exact figures, logged at the end


def test_chat_user_against_the_chat_server(tmp_path: Path) -> None:
    with netlab.ChatServer(port=0) as server:
        run = locust("--headless", "-u", "30", "-r", "30", "-t", "5s", "--host",
                     f"tcp://127.0.0.1:{server.port}", "--csv", str(tmp_path / "run"),
                     users="ChatUser")
        relayed = server.stats()["messages_relayed"]
    assert run.returncode == 0, run.stderr[-2000:]
    rows = stats(tmp_path / "run")
    assert int(rows["nick"]["Request Count"]) == 30 and int(rows["join"]["Request Count"]) == 30
    chat = rows["chat"]
    assert int(chat["Request Count"]) > 30 and int(chat["Failure Count"]) == 0
    assert relayed >= int(chat["Request Count"])  # each success was a real relay
    assert int(rows["Aggregated"]["Failure Count"]) == 0
