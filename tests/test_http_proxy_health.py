"""HttpProxy's active health checks: an upstream that stops answering its check path, answers
it with an error, or falls silent is marked down before a client has to find out, comes back
once it passes again, and the checks stop with the proxy."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Iterator

import pytest

import netlab
from conftest import wait_until

pytestmark = pytest.mark.timeout(120)


class FixedAnswer:
    """A TCP server that answers every connection with `answer` (None: says nothing)."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.answer is None:
                self.held.append(conn)
                continue
            conn.recv(65536)
            conn.sendall(self.answer)
            conn.close()

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture
def second_origin() -> Iterator[netlab.HttpServer]:
    with netlab.HttpServer(0) as s:
        yield s


def served_by(proxy: netlab.HttpProxy) -> dict[str, int]:
    return dict(proxy.stats()["upstream_requests"])


def get_many(proxy: netlab.HttpProxy, n: int) -> None:
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        conn.request("GET", "/get")
        assert conn.getresponse().status == 200
        conn.close()


def test_a_stopped_upstream_is_skipped_and_taken_back(origin: netlab.HttpServer,
                                                      second_origin: netlab.HttpServer) -> None:
    a, b = f"127.0.0.1:{origin.port}", f"127.0.0.1:{second_origin.port}"
    # A check's answer must come within the interval: half a second, so a busy CI machine
    # (a stall of 100 ms is not rare there) does not fail a healthy upstream.
    with netlab.HttpProxy(0, upstreams=[a, b], health_check="/get", health_interval=0.5,
                          keepalive=0) as p:
        wait_until(lambda: p.stats()["health_checks"] >= 4, what="the first checks")
        assert p.stats()["upstreams_down"] == 0 and p.stats()["health_check_failures"] == 0
        second_origin.stop()
        wait_until(lambda: p.stats()["upstreams_down"] == 1, what="b marked down")
        before = served_by(p)
        get_many(p, 10)
        after = served_by(p)
        # Every request went to a: the check found b down before any client did.
        assert after[a] - before[a] == 10 and after[b] == before[b]
        assert p.stats()["upstream_failures"] == 0 and p.stats()["retries"] == 0
        with netlab.HttpServer(second_origin.port):
            wait_until(lambda: p.stats()["upstreams_down"] == 0, what="b back")
            before = served_by(p)
            get_many(p, 10)
            after = served_by(p)
            assert after[b] - before[b] >= 4 and after[a] - before[a] >= 4


@pytest.mark.parametrize("answer", [
    pytest.param(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", id="503"),
    pytest.param(b"garbage\r\n\r\n", id="not-http"),
    pytest.param(None, id="silent"),
])
def test_an_unhealthy_answer_marks_the_upstream_down(answer: bytes | None,
                                                     origin: netlab.HttpServer) -> None:
    bad = FixedAnswer(answer)
    good = f"127.0.0.1:{origin.port}"
    try:
        with netlab.HttpProxy(0, upstreams=[good, f"127.0.0.1:{bad.port}"],
                              health_check="/get", health_interval=0.2, health_fails=2) as p:
            wait_until(lambda: p.stats()["upstreams_down"] == 1, what="the bad one marked down")
            assert p.stats()["health_check_failures"] >= 2  # fails=2: two in a row first
            before = served_by(p)
            get_many(p, 6)
            assert served_by(p)[good] - before[good] == 6
    finally:
        bad.close()


def test_checks_stop_with_the_proxy(origin: netlab.HttpServer) -> None:
    p = netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}", health_check="/get",
                         health_interval=0.05)
    with p:
        wait_until(lambda: p.stats()["health_checks"] >= 3, what="checks")
    done = p.stats()["health_checks"]
    time.sleep(0.3)
    assert p.stats()["health_checks"] == done
    assert origin.stats()["connections_active"] == 0


def test_bad_health_options_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="health_check must be a path"):
        netlab.HttpProxy(0, upstreams="127.0.0.1:9", health_check="health")
    with pytest.raises(ValueError, match="health_interval"):
        netlab.HttpProxy(0, upstreams="127.0.0.1:9", health_interval=0)
