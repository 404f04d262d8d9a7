"""ChatServer under every I/O model, with ChatClient, raw sockets, nc and the CLI client."""

from __future__ import annotations

import select
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

import netlab
from netlab import ChatClient, ChatServer
from netlab.codecs import Command, Frame, HeaderCodec
from conftest import CliServer, connect, recv_exact, recv_until_closed, wait_until


@pytest.fixture
def chat_server(model_options: dict):
    with ChatServer(port=0, **model_options) as server:
        yield server


def messages(client: ChatClient, count: int, timeout: float = 10.0,
             notices: list[str] | None = None) -> list[str]:
    """The next `count` chat messages ("<nick> ..."); other lines go to `notices` if given."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        line = client.recv(timeout=max(0.01, deadline - time.monotonic()))
        if line.startswith("<") or line.startswith("[private]"):
            got.append(line)
        elif notices is not None:
            notices.append(line)
    return got


def expect_line(client: ChatClient, expected: str, timeout: float = 10.0) -> None:
    """Reads until `expected` arrives (other lines, such as notices, may come first)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = client.recv(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            raise AssertionError(f"{expected!r} never arrived; saw {seen}") from None
        if line == expected:
            return
        seen.append(line)


def assert_quiet(client: ChatClient, seconds: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        while True:
            line = client.recv(timeout=seconds)
            assert not line.startswith("<"), f"unexpected message {line!r}"


def test_broadcast_reaches_every_other_member_once(chat_server: ChatServer) -> None:
    clients = [ChatClient("127.0.0.1", chat_server.port, nick=f"u{i}") for i in range(5)]
    try:
        for c in clients:
            c.send(f"hello from {c.nick}")
        for c in clients:
            got = sorted(messages(c, 4))
            assert got == sorted(f"<{o.nick}> hello from {o.nick}" for o in clients if o is not c)
            assert_quiet(c)  # exactly once, and never its own
    finally:
        for c in clients:
            c.close()


def test_order_is_kept_per_sender(chat_server: ChatServer) -> None:
    senders = [ChatClient("127.0.0.1", chat_server.port, nick=f"s{i}") for i in range(3)]
    reader = ChatClient("127.0.0.1", chat_server.port, nick="reader")
    try:
        threads = [threading.Thread(target=lambda s=s: [s.send(f"{n}") for n in range(300)])
                   for s in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = messages(reader, 900, timeout=20)
        for s in senders:
            numbers = [int(m.split("> ")[1]) for m in got if m.startswith(f"<{s.nick}>")]
            assert numbers == list(range(300))
    finally:
        for c in [*senders, reader]:
            c.close()


def test_nicknames(chat_server: ChatServer) -> None:
    with ChatClient("127.0.0.1", chat_server.port, nick="alice") as alice:
        with pytest.raises(ValueError, match="nick 'alice' is taken"):
            ChatClient("127.0.0.1", chat_server.port, nick="alice")
        with pytest.raises(ValueError, match="invalid nick"):
            ChatClient("127.0.0.1", chat_server.port, nick="no spaces!")
        with ChatClient("127.0.0.1", chat_server.port) as guest:
            assert guest.nick is not None and guest.nick.startswith("guest")
            guest.send("/nick bob")
            expect_line(guest, "* you are now bob")  # after any notice about the others
            expect_line(alice, f"* {guest.nick} is now bob")


def test_rooms_are_isolated(chat_server: ChatServer) -> None:
    with ChatClient("127.0.0.1", chat_server.port, nick="a") as a, \
            ChatClient("127.0.0.1", chat_server.port, nick="b") as b, \
            ChatClient("127.0.0.1", chat_server.port, nick="c") as c:
        a.send("/join dev")
        c.send("/join dev")
        wait_until(lambda: chat_server.stats()["rooms"].get("dev") == 2, what="two in dev")
        a.send("dev talk")
        b.send("lobby talk")
        assert messages(c, 1) == ["<a> dev talk"]
        assert_quiet(b)
        b.send("/rooms")
        expect_line(b, "* rooms: dev (2) lobby (1)")
        a.send("/who")
        who = next(line for line in iter(lambda: a.recv(5), None) if line.startswith("* in dev:"))
        assert sorted(who.split(":")[1].split()) == ["a", "c"]  # in the order they joined


def test_private_messages(chat_server: ChatServer) -> None:
    with ChatClient("127.0.0.1", chat_server.port, nick="a") as a, \
            ChatClient("127.0.0.1", chat_server.port, nick="b") as b, \
            ChatClient("127.0.0.1", chat_server.port, nick="c") as c:
        a.send("/msg b just for you")
        assert messages(b, 1) == ["[private] <a> just for you"]
        assert_quiet(c)
        a.send("/msg nobody hi")
        expect_line(a, "error: no such nick 'nobody'")


@pytest.mark.parametrize("goodbye", ["exit", "/quit"])
def test_exit_and_quit(chat_server: ChatServer, goodbye: str) -> None:
    with ChatClient("127.0.0.1", chat_server.port, nick="stay") as stay:
        leaver = ChatClient("127.0.0.1", chat_server.port, nick="leaver")
        leaver.send(goodbye)
        assert list(leaver) == ["* bye"]  # then the server closes the connection
        leaver.close()
        expect_line(stay, "* leaver left lobby")


def test_unknown_command_is_an_error_not_a_disconnect(chat_server: ChatServer) -> None:
    with ChatClient("127.0.0.1", chat_server.port) as c:
        c.send("/dance")
        assert c.recv(5) == "error: unknown command /dance (try /help)"
        c.send("/help")
        assert c.recv(5).startswith("* commands: /nick NAME")


def test_raw_netcat_chats_with_chat_client(chat_server: ChatServer) -> None:
    nc = shutil.which("nc")
    assert nc, "netcat-openbsd is required (the README's test command installs it)"
    with ChatClient("127.0.0.1", chat_server.port, nick="alice") as alice:
        proc = subprocess.Popen([nc, "127.0.0.1", str(chat_server.port)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        try:
            welcome = read_line(proc.stdout)
            assert welcome.startswith(b"* welcome guest") and b"you are in lobby" in welcome
            guest = welcome.split()[2].rstrip(b",").decode()
            proc.stdin.write(b"hello from nc\n")
            proc.stdin.flush()
            assert messages(alice, 1) == [f"<{guest}> hello from nc"]
            alice.send("hi nc")
            assert read_line(proc.stdout) == b"<alice> hi nc\n"
            proc.stdin.write(b"exit\n")
            proc.stdin.flush()
            assert read_line(proc.stdout) == b"* bye\n"
        finally:
            proc.stdin.close()
            proc.kill()
            proc.wait(10)
            proc.stdout.close()


def read_line(stream, timeout: float = 10.0) -> bytes:
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no line within the timeout"
    return stream.readline()


def test_server_full(model_options: dict) -> None:
    with ChatServer(port=0, max_clients=2, **model_options) as server:
        with ChatClient("127.0.0.1", server.port), ChatClient("127.0.0.1", server.port):
            with connect(server.port) as third:
                assert recv_until_closed(third) == b"error: server full\n"
        assert server.stats()["connections_rejected"] == 1


def test_binary_mode_with_header_codec(model_options: dict) -> None:
    codec = HeaderCodec()
    with ChatServer(port=0, codec=codec, **model_options) as server:
        with connect(server.port) as a:
            ra = FrameReader(a, codec)
            # A client is a member once welcomed; only then can it be told of the next one
            # (connections are registered on their own threads or loops, in any order).
            welcome = ra.next()
            assert welcome.command == Command.SERVER_INFO
            assert welcome.payload.startswith(b"welcome guest")
            b = connect(server.port)
            rb = FrameReader(b, codec)
            joined = ra.next()
            assert joined.command == Command.SERVER_INFO
            assert joined.payload.endswith(b"joined lobby")
            wait_until(lambda: server.stats()["members"] == 2, what="both members")
            a.sendall(codec.encode(b"hi there", command=Command.CLIENT_CHAT, sequence=42))
            assert ra.next() == Frame(1, Command.SERVER_ACK, 42, b"")
            assert rb.next(skip=Command.SERVER_INFO) == Frame(1, Command.SERVER_ECHO, 42,
                                                              b"hi there")
            b.close()


class FrameReader:
    """Frames from a socket, one at a time, keeping any that arrived together."""

    def __init__(self, sock: socket.socket, codec: HeaderCodec) -> None:
        self.sock, self.decoder, self.frames = sock, codec.decoder(), []
        sock.settimeout(10)

    def next(self, skip: int = -1) -> Frame:
        while True:
            while not self.frames:
                self.frames += self.decoder.feed(self.sock.recv(4096))
            frame = self.frames.pop(0)
            if frame.command != skip:
                return frame


@pytest.mark.parametrize("model", netlab.MODELS)
def test_slow_reader_is_dropped_and_the_room_loses_nothing(model: str) -> None:
    max_queue = 256 << 10
    with CliServer("chat", "--model", model, "--max-queue", str(max_queue)) as server:
        slow = connect(server.port)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        talkers = [ChatClient("127.0.0.1", server.port, nick=f"t{i}") for i in range(20)]
        before = server.rss_kib()
        text = "x" * 1000
        # 8 MB for the slow reader: more than the kernel's socket buffers (tcp_wmem allows
        # 4 MiB) plus the server's 1 MiB queue, so the queue must overflow.
        per_talker = 400
        errors: list[BaseException] = []
        notices: list[str] = []

        def talk(c: ChatClient) -> None:
            try:
                for n in range(per_talker):
                    c.send(f"{n} {text}")
                by_sender: dict[str, list[int]] = {}
                for m in messages(c, 19 * per_talker, timeout=60, notices=notices):
                    nick, rest = m[1:].split("> ", 1)
                    by_sender.setdefault(nick, []).append(int(rest.split(" ", 1)[0]))
                assert sorted(by_sender) == sorted(o.nick for o in talkers if o is not c)
                assert all(v == list(range(per_talker)) for v in by_sender.values())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=talk, args=(c,)) for c in talkers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        assert not errors, errors[0]
        growth_mib = (server.rss_kib() - before) / 1024
        dropped = [n for n in notices if f"was disconnected: too slow: over {max_queue} bytes" in n]
        assert len(dropped) == 20, notices[:5]  # every talker was told, once
        for c in talkers:
            c.close()
        slow.close()
        code, _ = server.stop()
    # Bounded by the clients, not by the traffic (~160 MB relayed). Loop models: each of the
    # 21 holds at most max_queue queued (2 x allows for the buffer's growth). Threaded: a
    # member still reading may hold up to 4 x max_queue queued, since senders never wait for
    # it, plus the batch its writer holds (as large): 8 x.
    per_member = 8 if model == "threaded" else 2
    bound_mib = 21 * per_member * max_queue / (1 << 20) + 16
    assert growth_mib < bound_mib, f"server RSS grew {growth_mib:.1f} MiB (bound {bound_mib})"
    assert code == 0


@pytest.mark.parametrize("model", ["epoll", "threaded"])
def test_500_clients_in_10_rooms(model: str) -> None:
    with ChatServer(port=0, model=model) as server:
        clients = [ChatClient("127.0.0.1", server.port, nick=f"n{i}") for i in range(500)]
        try:
            for i, c in enumerate(clients):
                c.send(f"/join room{i % 10}")
            wait_until(lambda: sorted(server.stats()["rooms"].values()) == [0] + [50] * 10
                       or sorted(server.stats()["rooms"].values()) == [50] * 10,
                       timeout=30, what="500 members in 10 rooms")
            for c in clients:
                c.send(f"one from {c.nick}")
                c.send(f"two from {c.nick}")
            for i, c in enumerate(clients):
                got = messages(c, 98, timeout=30)
                senders = {m.split(">")[0][1:] for m in got}
                assert len(senders) == 49 and all(int(s[1:]) % 10 == i % 10 for s in senders)
            stats = server.stats()
            assert stats["members"] == 500 and stats["errors"] == 0
            assert stats["messages_relayed"] >= 500 * 2 * 49
        finally:
            for c in clients:
                c.close()


def test_dropped_client_notice_reaches_the_room() -> None:
    with ChatServer(port=0, max_queue=4096) as server:
        with ChatClient("127.0.0.1", server.port, nick="watcher") as watcher, \
                ChatClient("127.0.0.1", server.port, nick="loud") as loud:
            slow = connect(server.port)
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            for n in range(6000):  # 6 MB: more than the kernel buffers the slow socket
                loud.send(f"{n} " + "y" * 1000)
            lines = []
            deadline = time.monotonic() + 20
            while not any("was disconnected: too slow" in l for l in lines):
                assert time.monotonic() < deadline, "no drop notice"
                lines.append(watcher.recv(10))
            assert server.stats()["dropped_slow"] == 1
            slow.close()


def test_interactive_cli_client() -> None:
    with ChatServer(port=0) as server, ChatClient("127.0.0.1", server.port, nick="dave") as dave:
        proc = subprocess.Popen([sys.executable, "-m", "netlab", "chat",
                                 f"127.0.0.1:{server.port}", "--nick", "carol"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert "as carol" in proc.stdout.readline()
            wait_until(lambda: server.stats()["members"] == 2, what="carol joined")
            dave.send("hi carol")
            while (line := proc.stdout.readline()) != "<dave> hi carol\n":
                assert line, "the CLI client ended early"
            proc.stdin.write("hello dave\n")
            proc.stdin.flush()
            assert messages(dave, 1) == ["<carol> hello dave"]
            proc.stdin.write("exit\n")
            proc.stdin.flush()
            assert proc.wait(10) == 0
            expect_line(dave, "* carol left lobby")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdin.close()
            proc.stdout.close()


def test_cli_client_quits_at_end_of_input() -> None:
    with ChatServer(port=0) as server:
        run = subprocess.run([sys.executable, "-m", "netlab", "chat", f"127.0.0.1:{server.port}"],
                             input="just one line\n", capture_output=True, text=True, timeout=20)
        assert run.returncode == 0, run.stderr
        assert "* bye" in run.stdout
        wait_until(lambda: server.stats()["members"] == 0, what="left")


@pytest.mark.parametrize("model", ["epoll", "threaded"])
def test_chat_load_scenario_measures_fan_out(model: str) -> None:
    with ChatServer(port=0, model=model) as server:
        result = netlab.LoadGenerator("127.0.0.1", server.port, scenario="chat", connections=50,
                                      rooms=5, rate=500, duration=2, size=80).run()
        relayed = server.stats()["messages_relayed"]
    assert result.errors == 0
    # Each message reaches the 9 other members of its room; the last few ms may be cut off.
    assert 0.95 * 9 * result.requests <= result.responses <= 9 * result.requests
    assert result.responses <= relayed
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p99"]


def test_chat_scenario_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="chat scenario needs a send rate"):
        netlab.LoadGenerator("127.0.0.1", 9, scenario="chat")
