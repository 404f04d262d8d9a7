"""Starting, stopping and configuring servers; the errors a user can run into."""

from __future__ import annotations

import errno
import socket
import threading
import time

import pytest

import netlab
from conftest import connect, exchange, recv_exact, recv_until_closed, wait_until


def test_models_are_listed() -> None:
    assert netlab.MODELS == ("epoll", "threaded", "select", "poll")


def test_unknown_model_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown model 'kqueue'; valid models: epoll, threaded, select"):
        netlab.EchoServer(port=0, model="kqueue")


@pytest.mark.parametrize("model", ["threaded", "select"])
def test_workers_only_for_epoll(model: str) -> None:
    with pytest.raises(ValueError, match="epoll model only"):
        netlab.EchoServer(port=0, model=model, workers=2)


@pytest.mark.parametrize("kwargs", [{"workers": 0}, {"port": 70000}, {"high_water": 10},
                                    {"idle_timeout": -1}, {"host": "not an address"}])
def test_bad_options_raise_value_error(kwargs: dict) -> None:
    options = {"port": 0, **kwargs}
    with pytest.raises(ValueError):
        netlab.EchoServer(**options).start()


@pytest.mark.parametrize("cls, kwargs, name", [
    (netlab.EchoServer, {"high_water": -1}, "high_water"),
    (netlab.EchoServer, {"workers": -3}, "workers"),
    (netlab.EchoServer, {"backlog": 0}, "backlog"),
    (netlab.EchoServer, {"max_connections": -1}, "max_connections"),
    (netlab.EchoServer, {"max_connections_per_ip": -1}, "max_connections_per_ip"),
    (netlab.EchoServer, {"message_timeout": -2.5}, "message_timeout"),
    (netlab.EchoServer, {"max_input_memory": 10}, "max_input_memory"),
    (netlab.EchoServer, {"model": "select", "max_connections": 5000}, "max_connections"),
    (netlab.PingPongServer, {"max_line": -1}, "max_line"),
    (netlab.ChatServer, {"max_queue": -5}, "max_queue"),
    (netlab.ChatServer, {"announce_limit": -1}, "announce_limit"),
])
def test_every_bad_value_names_the_option_and_its_range(cls: type, kwargs: dict,
                                                        name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be between .* \(got -?[\d.]+\)$"):
        cls(port=0, **kwargs)


@pytest.mark.parametrize("kwargs, name", [
    ({"size": -1}, "size"), ({"connections": -5}, "connections"), ({"requests": -1}, "requests"),
    ({"threads": 0}, "threads"), ({"pipeline": 0}, "pipeline"), ({"max_response": -1},
                                                                  "max_response"),
    ({"response_timeout": -1}, "response_timeout"), ({"rate": -3}, "rate"),
])
def test_bad_load_options_name_the_option(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be .*\(got -?[\d.]+\)$"):
        netlab.LoadGenerator("127.0.0.1", 9, **kwargs)


def test_port_in_use_gives_oserror_with_errno(model_options: dict) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(OSError) as info:
            netlab.EchoServer(port=port, **model_options).start()
    assert info.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{port}" in str(info.value)


def test_second_netlab_server_on_same_port_fails(model_options: dict) -> None:
    with netlab.EchoServer(port=0, **model_options) as first:
        with pytest.raises(OSError) as info:
            netlab.PingPongServer(port=first.port, **model_options).start()
        assert info.value.errno == errno.EADDRINUSE


def test_port_zero_reports_the_real_port(model_options: dict) -> None:
    with netlab.EchoServer(port=0, **model_options) as server:
        assert server.port > 0 and server.running
        assert repr(server).endswith("running>")
    assert not server.running


def test_start_twice_is_an_error() -> None:
    with netlab.EchoServer(port=0) as server:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()


def test_stop_is_idempotent(model_options: dict) -> None:
    server = netlab.EchoServer(port=0, **model_options).start()
    server.stop()
    server.stop()
    assert not server.running


def test_stop_with_clients_connected_frees_the_port(model_options: dict) -> None:
    server = netlab.PingPongServer(port=0, **model_options).start()
    port = server.port
    clients = [connect(port) for _ in range(20)]
    for c in clients:
        c.sendall(b"ping\n")
        assert recv_exact(c, 5) == b"pong\n"
    clients[0].sendall(b"partial line without end")
    wait_until(lambda: server.stats()["connections_active"] == 20, what="20 connected")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    assert server.stats()["connections_active"] == 0
    for c in clients:
        assert recv_until_closed(c) == b""  # EOF (or reset): the server closed it
        c.close()
    with netlab.PingPongServer(port=port, **model_options) as again:  # rebinding works at once
        with connect(again.port) as c:
            c.sendall(b"ping\n")
            assert recv_exact(c, 5) == b"pong\n"


def test_listen_then_serve_on_a_thread_stopped_from_another(model_options: dict) -> None:
    """listen() binds at once (clients wait in the backlog); serve() runs the loop on its
    caller's thread; stop() from another thread ends serve() and closes everything."""
    server = netlab.PingPongServer(port=0, **model_options).listen()
    early = connect(server.port)  # accepted by the kernel, served once serve() runs
    early.sendall(b"ping\n")
    serving = threading.Thread(target=server.serve)
    serving.start()
    assert recv_exact(early, 5) == b"pong\n"
    with connect(server.port) as late:
        assert exchange(late, b"ping\n", 5) == b"pong\n"
        server.stop()
        serving.join(5)
        assert not serving.is_alive()
        assert recv_until_closed(late) == b""
    assert recv_until_closed(early) == b""
    early.close()
    assert not server.running and server.stats()["connections_active"] == 0
    assert server.stats()["closes"]["server_stopping"] == 2


def test_restart_after_stop_keeps_counting(model_options: dict) -> None:
    server = netlab.EchoServer(port=0, **model_options)
    for _ in range(2):
        with server:
            with connect(server.port) as c:
                assert exchange(c, b"abc", 3) == b"abc"
    assert server.stats()["connections_total"] == 2


def test_idle_timeout_closes_silent_connections(model_options: dict) -> None:
    with netlab.EchoServer(port=0, idle_timeout=0.3, **model_options) as server:
        with connect(server.port) as busy, connect(server.port) as idle:
            deadline = time.monotonic() + 0.8
            while time.monotonic() < deadline:  # keep one connection active past the timeout
                assert exchange(busy, b"k", 1) == b"k"
                time.sleep(0.05)
            idle.settimeout(5)
            assert recv_until_closed(idle) == b""
            assert exchange(busy, b"still", 5) == b"still"


def test_max_connections_tells_the_client(model_options: dict) -> None:
    with netlab.EchoServer(port=0, max_connections=2, **model_options) as server:
        a, b = connect(server.port), connect(server.port)
        assert exchange(a, b"a", 1) == b"a" and exchange(b, b"b", 1) == b"b"
        with connect(server.port) as third:
            assert recv_until_closed(third) == b"error: server full\n"
        a.close()
        wait_until(lambda: server.stats()["connections_active"] == 1, what="one left")
        with connect(server.port) as fourth:
            assert exchange(fourth, b"ok", 2) == b"ok"
        b.close()
        assert server.stats()["connections_rejected"] == 1


def test_python_threads_run_while_native_threads_serve(model_options: dict) -> None:
    ticks = 0
    stop = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    with netlab.EchoServer(port=0, **model_options) as server:
        thread = threading.Thread(target=ticker)
        thread.start()
        with connect(server.port) as c:
            data = b"z" * (4 << 20)
            # Keep the server busy for a while: a fast machine echoes 4 MiB in a few ms.
            busy_until = time.monotonic() + 0.2
            while time.monotonic() < busy_until:
                assert exchange(c, data, len(data)) == data
        server.stop()
        stop.set()
        thread.join()
    assert ticks > 20


def test_connection_events_are_logged_when_asked(model_options: dict) -> None:
    with netlab.EchoServer(port=0, log_connections=True, **model_options) as server:
        with connect(server.port) as c:
            assert exchange(c, b"hi", 2) == b"hi"
        wait_until(lambda: server.stats()["connections_active"] == 0, what="closed")
        events = server.events()
    assert any(e.startswith("open #") for e in events), events
    assert any(e.startswith("close #") for e in events), events
