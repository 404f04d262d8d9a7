"""The load generator's idle crowd (idle_connections=N): opened before the run, held without
traffic, and counted at the end if the server closed or reset them (the C10K experiment)."""

from __future__ import annotations

import threading

import pytest

import netlab
from conftest import free_port


def run(port: int, idle: int, **options: object) -> netlab.LoadResult:
    settings: dict[str, object] = dict(connections=4, threads=1, duration=0.5)
    settings.update(options)
    return netlab.LoadGenerator("127.0.0.1", port, idle_connections=idle, **settings).run()


@pytest.mark.parametrize("model", netlab.MODELS)
def test_idle_connections_are_held_through_the_run_and_none_dropped(model: str) -> None:
    with netlab.EchoServer(port=0, model=model) as server:
        gen = netlab.LoadGenerator("127.0.0.1", server.port, connections=4, threads=2,
                                   duration=0.6, idle_connections=300)
        gen.start()  # returns once the idle crowd is connected
        during = server.stats()["connections_active"]
        result = gen.result()
    assert result.idle_opened == 300 and result.idle_failed == 0 and result.idle_dropped == 0
    assert result.idle_error == ""
    assert result.errors == 0 and result.responses > 0
    assert during >= 300


def test_the_idle_crowd_is_given_back_when_the_run_ends() -> None:
    with netlab.EchoServer(port=0) as server:
        result = run(server.port, 100)
        assert result.idle_opened == 100
        stats = server.stats()
        for _ in range(100):
            if stats["connections_active"] == 0:
                break
            threading.Event().wait(0.02)
            stats = server.stats()
        assert stats["connections_active"] == 0


def test_idle_connections_closed_by_the_servers_idle_timeout_are_counted_as_dropped() -> None:
    with netlab.EchoServer(port=0, idle_timeout=0.2) as server:
        result = run(server.port, 50, duration=0.8)
    assert result.idle_opened == 50
    assert result.idle_dropped == 50
    assert server.stats()["closes"]["idle_timeout"] >= 50


def test_select_past_its_cap_drops_the_idle_connections_it_cannot_hold() -> None:
    with netlab.EchoServer(port=0, model="select", max_connections=40) as server:
        result = run(server.port, 60, connections=1)
    assert result.idle_opened == 60
    assert result.idle_dropped == 20  # told "server full" and closed
    assert result.responses == 0 and result.errors > 0  # the busy one found no room either


def test_idle_connects_to_a_closed_port_fail_and_are_counted() -> None:
    result = run(free_port(), 20, requests=5, duration=None)
    assert result.idle_failed == 20 and result.idle_opened == 0
    assert "refused" in result.idle_error.lower()


def test_idle_connections_option_is_checked() -> None:
    with pytest.raises(ValueError, match="idle_connections"):
        netlab.LoadGenerator("127.0.0.1", 1, idle_connections=-1)


def test_open_idle_connects_the_crowd_before_the_run_starts() -> None:
    with netlab.EchoServer(port=0) as server:
        gen = netlab.LoadGenerator("127.0.0.1", server.port, connections=2, threads=1,
                                   requests=10, duration=None, idle_connections=40)
        gen.open_idle()
        assert server.stats()["connections_active"] == 40
        assert server.stats()["messages_in"] == 0  # nothing has been sent yet
        result = gen.run()
    assert result.idle_opened == 40 and result.responses == 10
