"""`python -m netlab serve ...` as a user runs it, with real clients (nc) and real signals."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys

import pytest

import netlab
from conftest import CliServer, connect, recv_exact


def nc_exchange(port: int, data: bytes) -> bytes:
    nc = shutil.which("nc")
    assert nc, "netcat-openbsd is required (the README's test command installs it)"
    result = subprocess.run([nc, "-N", "127.0.0.1", str(port)], input=data, capture_output=True,
                            timeout=20)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("model", ["epoll", "threaded", "select"])
def test_serve_pingpong_answers_nc(model: str) -> None:
    with CliServer("pingpong", "--model", model) as server:
        assert server.banner.startswith(f"netlab pingpong server ({model}) listening on 127.0.0.1:")
        assert nc_exchange(server.port, b"ping\nhello\n") == b"pong\nreceived: hello\n"
        code, output = server.stop(signal.SIGINT)
    assert code == 0, output
    assert "Traceback" not in output


@pytest.mark.parametrize("model", ["epoll", "poll", "select"])
def test_one_worker_serves_on_the_main_thread_alone(model: str) -> None:
    """Like Redis: the loop runs on Python's main thread, no other thread in the process, and
    Ctrl+C still ends it at once (a signal cuts the loop's wait short)."""
    import os
    import time
    with CliServer("echo", "--model", model) as server:
        with connect(server.port) as c:
            c.sendall(b"abc")
            assert recv_exact(c, 3) == b"abc"
            assert len(os.listdir(f"/proc/{server.proc.pid}/task")) == 1
            started = time.monotonic()
            code, output = server.stop(signal.SIGINT)
            assert time.monotonic() - started < 2
    assert code == 0, output
    assert "Traceback" not in output


def test_sigterm_stops_cleanly() -> None:
    with CliServer("echo", "--workers", "2") as server:
        assert "(epoll, 2 workers)" in server.banner
        with connect(server.port) as c:
            c.sendall(b"abc")
            assert recv_exact(c, 3) == b"abc"
            code, output = server.stop(signal.SIGTERM)
    assert code == 0, output


def test_verbose_prints_connection_lines() -> None:
    with CliServer("pingpong", "-v") as server:
        assert nc_exchange(server.port, b"ping\n") == b"pong\n"
        code, output = server.stop(signal.SIGINT)
    assert code == 0
    assert "open #1 127.0.0.1:" in output
    assert "close #1 127.0.0.1:" in output


def test_quiet_by_default() -> None:
    with CliServer("pingpong") as server:
        nc_exchange(server.port, b"ping\n")
        code, output = server.stop(signal.SIGINT)
    assert code == 0
    assert "open #" not in output


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "netlab", "serve", "echo", "--port",
                                 str(port)], capture_output=True, text=True, timeout=20)
    assert result.returncode == 1
    assert f"netlab: error: [Errno 98] bind 127.0.0.1:{port}: Address already in use" in result.stderr


def test_unknown_model_is_rejected() -> None:
    result = subprocess.run([sys.executable, "-m", "netlab", "serve", "echo", "--model", "kqueue"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert "invalid choice: 'kqueue'" in result.stderr


def cli_help(*command: str) -> str:
    result = subprocess.run([sys.executable, "-m", "netlab", *command, "--help"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_is_plain_text_and_names_every_command() -> None:
    text = cli_help()
    assert "``" not in text  # no RST markup from a docstring
    for command in ("serve", "bench", "demo", "chat"):
        assert f"  {command} " in text
    assert "examples:" in text


@pytest.mark.parametrize("command, shown", [
    ("serve", "(default: 12345)"), ("bench", "(default: 100)"), ("demo", "(default: 50,1000)")])
def test_subcommand_help_shows_defaults(command: str, shown: str) -> None:
    assert shown in " ".join(cli_help(command).split())


@pytest.mark.parametrize("model", ["epoll", "threaded"])
def test_serve_prints_its_stats_on_sigusr1(model: str) -> None:
    """How a benchmark reads the counters of a server in another process."""
    from netlab.lab import ServerProcess

    server = ServerProcess(model)
    try:
        before = server.stats()
        with netlab.ChatClient("127.0.0.1", server.port, welcome_timeout=0.2) as client:
            for _ in range(5):
                client.send("hi")
                assert client.recv(timeout=5) == "hi"
        after = server.stats()
    finally:
        server.close()
    assert before["model"] == model and before["messages_in"] == 0
    assert after["messages_in"] == 5 and after["accepts"] >= 1
    assert after["reads"] >= 5 and after["writes"] == 5
