"""The server counts its own kernel work (readiness waits, ready descriptors, reads, writes),
so the cost of each I/O model per request can be read from stats()."""

from __future__ import annotations

import pytest

import netlab

KERNEL_WORK = ("waits", "ready_events", "reads", "writes")


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
