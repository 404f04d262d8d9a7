"""Servers no client can stall: an fd shortage with several workers, a client that asks for
more than it reads, join storms, members that never read, drip-feeders, partial lines that
add up, and terminal escapes relayed to everyone. Timing bounds are liveness bounds, generous
for a shared 2-core machine; counts and states are asserted wherever possible."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time

import pytest

import netlab
from netlab import ChatClient, ChatServer
from conftest import CliServer, connect, free_port, recv_exact, recv_until_closed, wait_until

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def raise_own_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ping(port: int, timeout: float = 5.0) -> bytes:
    with connect(port, timeout=timeout) as c:
        c.sendall(b"ping\n")
        return recv_exact(c, 5)


# A: fd exhaustion with several workers ---------------------------------------------------

def test_fd_shortage_with_two_workers_sheds_without_spinning() -> None:
    raise_own_fd_limit()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "netlab", "serve", "pingpong", "--workers", "2", "--port",
         str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)))
    try:
        assert "listening" in proc.stdout.readline()
        for storm in range(2):  # the spare fds survive the first storm
            # 1,000 connections that reconnect when shed: a connect storm for 4 seconds, at a
            # low request rate so that serving the ~250 that fit costs little CPU.
            used, result = _storm(proc.pid, port, connections=1000, rate=500)
            assert used < 0.2, f"storm {storm}: {used / 2:.0%} of a core while shedding"
            assert result.responses > 0 and result.errors > 0  # some served, some shed
            wait_until(lambda: _pong_or_none(port) == b"pong\n", timeout=10,
                       what="a new client served after the storm")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def _storm(pid: int, port: int, connections: int, rate: float) -> tuple[float, netlab.LoadResult]:
    """A connect storm: `connections` line clients that reconnect when shed, at a low total
    request rate, for 4 seconds. Returns the server's CPU seconds over the 2 s in the middle
    and the run's result."""
    gen = netlab.LoadGenerator("127.0.0.1", port, scenario="line", connections=connections,
                               threads=1, rate=rate, duration=4, response_timeout=2,
                               connect_timeout=2).start()
    time.sleep(1.5)
    before = cpu_seconds(pid)
    time.sleep(2.0)
    used = cpu_seconds(pid) - before
    gen.stop()
    return used, gen.result()


def _pong_or_none(port: int) -> bytes | None:
    try:
        return ping(port, timeout=2)
    except OSError:
        return None


def test_relay_fd_shortage_sheds_clients_and_keeps_relaying() -> None:
    """A relay spends two fds per client (its own and the target's), so at 256 fds a connect
    storm runs it out both at accept and at the outbound connect; either way the client is
    closed, the relay does not spin, and once the storm passes it relays again."""
    raise_own_fd_limit()
    with netlab.PingPongServer(port=0) as target:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "netlab", "serve", "relay", "--target",
             f"127.0.0.1:{target.port}", "--port", str(port)], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)))
        try:
            assert "listening" in proc.stdout.readline()
            used, result = _storm(proc.pid, port, connections=600, rate=300)
            assert used < 0.3, f"{used / 2:.0%} of a core while shedding"
            assert result.responses > 0  # some relayed
            shed = result.errors_by_kind["reset"] + result.errors_by_kind["closed"]
            assert shed > 0, result.errors_by_kind  # some closed at once, not left hanging
            wait_until(lambda: _pong_or_none(port) == b"pong\n", timeout=10,
                       what="a new client relayed after the storm")
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


# B: a client that asks for more than it reads ----------------------------------------------

def lobby_size(port: int) -> int:
    with ChatClient("127.0.0.1", port) as c:
        c.send("/rooms")
        rooms = next(line for line in iter(lambda: c.recv(5), None) if line.startswith("* rooms:"))
    return int(rooms.split("lobby (", 1)[1].split(")", 1)[0]) - 1  # less the asker


@pytest.mark.parametrize("model", ["epoll", "select", "threaded"])
def test_who_flooder_does_not_slow_another_room(model: str) -> None:
    # In its own process: select watches only fds below 1024, and this one holds 800 more.
    with CliServer("chat", "--model", model) as server:
        members = [connect(server.port) for _ in range(800)]
        wait_until(lambda: lobby_size(server.port) == 800, timeout=30, what="800 members")
        flooder = connect(server.port)
        received = [0]
        flooding = threading.Event()

        def read_replies() -> None:
            flooder.settimeout(1)
            while flooding.is_set():
                try:
                    received[0] += len(flooder.recv(1 << 16))
                except OSError:
                    continue

        flooding.set()
        reader = threading.Thread(target=read_replies)
        reader.start()
        def flood() -> None:  # /who without end, read as fast as the server writes
            try:
                while flooding.is_set():
                    flooder.sendall(b"/who\n" * 13_000)
            except OSError:
                pass

        sender = threading.Thread(target=flood)
        sender.start()
        time.sleep(0.5)
        try:
            latencies = sorted(_probe_latencies(server.port, count=100))
        finally:
            flooding.clear()
            reader.join(10)
            flooder.close()
            sender.join(30)
            for m in members:
                m.close()
        assert received[0] > 0, "the flooder was not served at all"
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        assert p99 < 0.05, f"probe p99 {p99 * 1000:.1f} ms beside a /who flooder"


def _probe_latencies(port: int, count: int) -> list[float]:
    """Two clients in their own room: one sends timestamped lines, the other times them."""
    with ChatClient("127.0.0.1", port, nick="probe_a") as a, \
            ChatClient("127.0.0.1", port, nick="probe_b") as b:
        a.send("/join probe")
        b.send("/join probe")
        time.sleep(0.2)
        latencies = []
        for n in range(count):
            a.send(f"t {time.monotonic():.6f} {n}")
            while True:
                line = b.recv(timeout=10)
                if line.startswith("<probe_a> t "):
                    latencies.append(time.monotonic() - float(line.split()[2]))
                    break
            time.sleep(0.01)
        return latencies


def test_who_is_paginated() -> None:
    with ChatServer(port=0) as server:
        members = [connect(server.port) for _ in range(120)]
        wait_until(lambda: server.stats()["members"] == 120, what="120 members")
        with ChatClient("127.0.0.1", server.port, nick="asker") as asker:
            asker.send("/who")
            page = next(line for line in iter(lambda: asker.recv(5), None)
                        if line.startswith("* in lobby:"))
            names = page.split(":", 1)[1].split(" (")[0].split()
            assert len(names) == 50
            assert "(121 members, page 1/3; /who 2 for the next)" in page
            asker.send("/who 3")
            last = next(line for line in iter(lambda: asker.recv(5), None)
                        if line.startswith("* in lobby:"))
            assert "page 3/3" in last and "asker" in last
        for m in members:
            m.close()


# C: join storms ----------------------------------------------------------------------------

def test_join_storm_of_5000_does_not_delay_a_welcome() -> None:
    raise_own_fd_limit()
    with ChatServer(port=0) as server:
        storm = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5000)]
        wait_until(lambda: server.stats()["members"] == 5000, timeout=60, what="5000 members")
        started = time.monotonic()
        with connect(server.port) as newcomer:
            newcomer.settimeout(5)
            welcome = newcomer.recv(4096)
        assert welcome.startswith(b"* welcome guest")
        assert time.monotonic() - started < 1.0
        # Above announce_limit nobody was told of anyone: the first members got at most
        # announce_limit join notices, not thousands.
        storm[0].settimeout(2)
        first = b""
        try:
            while len(first) < 1 << 20:
                chunk = storm[0].recv(1 << 16)
                if not chunk:
                    break
                first += chunk
        except socket.timeout:
            pass
        assert first.count(b" joined lobby") <= 100
        for s in storm:
            s.close()


# D: members that never read, under the threaded model ------------------------------------

def test_threaded_chat_sender_never_waits_for_stalled_members() -> None:
    with ChatServer(port=0, model="threaded", max_queue=64 << 10) as server:
        stalled = []
        for _ in range(20):
            s = connect(server.port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.append(s)
        with ChatClient("127.0.0.1", server.port, nick="talker") as talker, \
                ChatClient("127.0.0.1", server.port, nick="reader") as reader:
            wait_until(lambda: server.stats()["members"] == 22, what="22 members")
            latencies: list[float] = []

            def read() -> None:
                while len(latencies) < 3000:
                    line = reader.recv(timeout=20)
                    if line.startswith("<talker> "):
                        latencies.append(time.monotonic() - float(line.split()[1]))

            thread = threading.Thread(target=read)
            thread.start()
            padding = "p" * 2000
            # 6 MB to each member: more than the kernel buffers (tcp_wmem allows 4 MiB).
            for _ in range(3000):
                talker.send(f"{time.monotonic():.6f} {padding}")
                time.sleep(0.001)
            thread.join(60)
        assert len(latencies) == 3000
        assert max(latencies) < 0.2, f"a good reader waited {max(latencies) * 1000:.0f} ms"
        assert server.stats()["dropped_slow"] == 20
        for s in stalled:
            s.close()


# E: slow and idle clients ------------------------------------------------------------------

def test_slowloris_from_one_address_cannot_lock_out_select() -> None:
    # In its own process: select watches only fds below 1024, and this one holds 2,000 more.
    with CliServer("pingpong", "--model", "select", "--max-connections-per-ip", "100") as server:
        attackers = []
        for _ in range(2000):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", server.port))
            attackers.append(s)
        stop = threading.Event()

        def drip() -> None:
            while not stop.is_set():
                for s in attackers:
                    try:
                        s.send(b"p")
                    except OSError:
                        pass
                stop.wait(0.5)

        dripper = threading.Thread(target=drip)
        dripper.start()
        try:
            time.sleep(1.5)
            assert ping(server.port) == b"pong\n"  # a client on 127.0.0.1 is still served
        finally:
            stop.set()
            dripper.join(10)
        refused = 0
        for s in attackers:
            s.setblocking(False)
            try:
                refused += s.recv(200).startswith(b"error: too many connections from 127.0.0.2")
            except OSError:
                pass
            s.close()
        assert refused >= 1890


def test_per_address_refusal_tells_the_client(model_options: dict) -> None:
    with netlab.EchoServer(port=0, max_connections_per_ip=2, **model_options) as server:
        with connect(server.port) as a, connect(server.port) as b:
            a.sendall(b"1")
            b.sendall(b"2")
            assert recv_exact(a, 1) == b"1" and recv_exact(b, 1) == b"2"
            with connect(server.port) as third:
                assert recv_until_closed(third) == (
                    b"error: too many connections from 127.0.0.1 (at most 2 per address)\n")
        wait_until(lambda: server.stats()["connections_active"] == 0, what="both closed")
        with connect(server.port) as again:  # the slots were given back
            again.sendall(b"3")
            assert recv_exact(again, 1) == b"3"


def test_message_timeout_stops_a_drip_feeder(model_options: dict) -> None:
    with netlab.PingPongServer(port=0, message_timeout=1.0, idle_timeout=60,
                               **model_options) as server:
        with connect(server.port) as dripper, connect(server.port) as good:
            started = time.monotonic()
            closed = False
            for byte in b"pingpingpingpingpingping":  # one byte every 0.2 s, never a newline
                try:
                    dripper.send(bytes([byte]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.2)
                good.sendall(b"ping\n")
                assert recv_exact(good, 5) == b"pong\n"
            dripper.settimeout(5)
            if not closed:
                assert recv_until_closed(dripper) == b""
            assert time.monotonic() - started < 4
            assert server.stats()["timeouts"] == 1


def test_defaults_keep_a_server_alive() -> None:
    defaults = netlab.servers.DEFAULTS
    assert 0 < defaults["idle_timeout"] and 0 < defaults["message_timeout"]
    assert defaults["select_max_connections"] < 1024
    with netlab.EchoServer(port=0) as server:
        assert server.stats()["timeouts"] == 0


# F: partial lines that add up --------------------------------------------------------------

def test_partial_lines_are_bounded_server_wide_and_memory_comes_back() -> None:
    raise_own_fd_limit()
    with CliServer("pingpong", "--model", "epoll") as server:
        baseline = server.rss_kib()
        clients = []
        for _ in range(2000):
            c = connect(server.port)
            try:
                c.sendall(b"x" * 65535)  # a partial line: no newline, just under max_line
            except OSError:
                pass
            clients.append(c)
        time.sleep(1.0)
        peak = server.rss_kib()
        with connect(server.port) as probe:  # still serving
            probe.sendall(b"ping\n")
            assert recv_exact(probe, 5) == b"pong\n"
        for c in clients:
            c.close()
        time.sleep(2.5)  # closes, then the trim a second after the wave
        after = server.rss_kib()
        server.stop()
    held_mib = (peak - baseline) / 1024
    assert held_mib < 64 + 48, f"partial input held {held_mib:.0f} MiB (bound 64 MiB)"
    assert (after - baseline) / 1024 < 24, f"RSS stayed {(after - baseline) / 1024:.0f} MiB up"


# G: terminal control in relayed text -------------------------------------------------------

def test_chat_replaces_control_characters(model_options: dict) -> None:
    with ChatServer(port=0, **model_options) as server:
        with connect(server.port) as a, ChatClient("127.0.0.1", server.port, nick="b") as b:
            a.sendall(b"/nick a\n")
            wait_until(lambda: server.stats()["members"] == 2, what="both")
            a.sendall(b"hi \x1b[2J\x07\x00 \xff \xc2\x9b caf\xc3\xa9\tok\r\n")
            line = next(line for line in iter(lambda: b.recv(5), None) if line.startswith("<a>"))
            assert line == "<a> hi ?[2J?? ? ?? café\tok"


def test_a_member_that_only_listens_is_not_idle(model_options: dict) -> None:
    with ChatServer(port=0, idle_timeout=1.0, **model_options) as server:
        with ChatClient("127.0.0.1", server.port, nick="talker") as talker, \
                ChatClient("127.0.0.1", server.port, nick="listener") as listener:
            for n in range(8):  # 2.4 s of traffic to the listener, which never sends
                talker.send(f"tick {n}")
                while listener.recv(timeout=5) != f"<talker> tick {n}":
                    pass
                time.sleep(0.3)
            assert server.stats()["members"] == 2
            assert server.stats()["timeouts"] == 0
