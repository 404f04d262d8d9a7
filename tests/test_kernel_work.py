"""The server counts its own kernel work (readiness waits, ready descriptors, reads, writes),
so the cost of each I/O model per request can be read from stats()."""

from __future__ import annotations

import resource

import pytest

import netlab

KERNEL_WORK = ("waits", "ready_events", "reads", "writes", "accepts")


@pytest.mark.parametrize("model", netlab.MODELS)
def test_one_busy_connection_costs_a_wait_a_read_and_a_write_per_request(model: str) -> None:
    """One connection, one request in flight: nothing can be batched, so every request
    needs the server to wake, read and write at least once (the one-connection case)."""
    with netlab.PingPongServer(port=0, model=model) as server:
        before = server.stats()
        result = netlab.LoadGenerator("127.0.0.1", server.port, scenario="line",
                                      request=b"ping", expect=b"pong", connections=1,
                                      threads=1, requests=2000, duration=None).run()
        after = server.stats()
    n = result.responses
    assert n == 2000 and result.errors == 0
    work = {k: after[k] - before[k] for k in KERNEL_WORK}  # type: ignore[literal-required]
    assert n <= work["reads"] <= n + 10, work  # one read per request, plus the EOF
    assert n <= work["writes"] <= n + 10, work
    assert n <= work["waits"] <= 2 * n + 100, work  # a threaded acceptor polls every 100 ms
    assert n <= work["ready_events"] <= 2 * n + 100, work


def test_kernel_work_is_in_the_stats_and_survives_stop() -> None:
    server = netlab.EchoServer(port=0).start()
    with netlab.ChatClient("127.0.0.1", server.port, welcome_timeout=0.2) as client:
        client.send("hello")
        assert client.recv(timeout=5) == "hello"
    server.stop()
    stats = server.stats()
    assert all(stats[k] > 0 for k in KERNEL_WORK), stats  # type: ignore[literal-required]


@pytest.mark.parametrize("model", netlab.MODELS)
def test_every_accepted_connection_costs_an_accept_call(model: str) -> None:
    """A connect storm: each connection is one successful accept4, and a wake-up that drains
    the backlog ends with one call that finds nothing (EAGAIN), so the calls are between the
    connections and twice as many."""
    with netlab.EchoServer(port=0, model=model) as server:
        result = netlab.LoadGenerator("127.0.0.1", server.port, scenario="connect",
                                      connections=4, threads=1, requests=200,
                                      duration=None).run()
        after = server.stats()
    assert result.errors == 0 and result.responses == 200
    accepted = after["connections_total"]
    assert accepted == 200
    assert accepted <= after["accepts"] <= 2 * accepted + 10, after


def test_context_switches_are_the_processes_own_and_only_grow() -> None:
    with netlab.EchoServer(port=0) as server:
        first = server.stats()
        with netlab.ChatClient("127.0.0.1", server.port, welcome_timeout=0.2) as client:
            for _ in range(20):
                client.send("x")
                assert client.recv(timeout=5) == "x"
        second = server.stats()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    assert 0 < first["context_switches_voluntary"] < second["context_switches_voluntary"]
    assert second["context_switches_voluntary"] <= usage.ru_nvcsw
    assert first["context_switches_involuntary"] <= second["context_switches_involuntary"]
    assert second["context_switches_involuntary"] <= usage.ru_nivcsw
