"""HttpProxy's upstream side: the keep-alive pool shared by clients, weighted round-robin and
least-connections, passive health (an upstream that fails is skipped for fail_timeout), and
the retries (a failed connect goes to the next upstream; an idempotent request whose pooled
connection died before any answer is sent once more)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import pytest

import netlab
from conftest import MODEL_OPTIONS, wait_until

pytestmark = pytest.mark.timeout(60)


def request(port: int, path: str = "/get", method: str = "GET",
            body: bytes | None = None) -> tuple[int, bytes]:
    """One request on its own client connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def dead_port() -> int:
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connects are refused
    return port


def test_clients_share_the_pool(origin: netlab.HttpServer) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}") as p:
        for i in range(5):
            assert request(p.port, f"/get?i={i}")[0] == 200
        s = p.stats()
        assert s["upstream_connects"] == 1 and s["upstream_reuses"] == 4, s
        assert s["pool_idle"] == 1
        assert origin.stats()["connections_total"] == 1


def test_the_pool_is_bounded_and_its_idle_connections_expire(origin: netlab.HttpServer) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}", keepalive=2,
                          keepalive_timeout=0.3) as p:
        clients = [http.client.HTTPConnection("127.0.0.1", p.port, timeout=10) for _ in range(4)]
        for c in clients:  # four slow requests in flight at once: four upstream connections
            c.request("GET", "/delay/200")
        for c in clients:
            assert c.getresponse().read()
        assert p.stats()["upstream_connects"] == 4
        wait_until(lambda: p.stats()["pool_idle"] == 2, 5)  # two closed past the cap
        wait_until(lambda: p.stats()["pool_idle"] == 0, 5)  # the rest timed out
        wait_until(lambda: origin.stats()["connections_active"] == 0, 5)
        assert request(p.port)[0] == 200 and p.stats()["upstream_connects"] == 5
        for c in clients:
            c.close()


def test_keepalive_zero_closes_after_each_response(origin: netlab.HttpServer) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}", keepalive=0) as p:
        for _ in range(3):
            assert request(p.port)[0] == 200
        s = p.stats()
        assert s["upstream_connects"] == 3 and s["upstream_reuses"] == 0 and s["pool_idle"] == 0


class StaleOrigin:
    """Answers the first request on each connection (keep-alive), then closes the connection
    when the second one arrives, unanswered: a server whose keep-alive timeout fired just as a
    reused connection was sent a request."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return conn.close()
            data += piece
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
        conn.recv(65536)  # the next request: dropped
        conn.close()

    def close(self) -> None:
        self.listener.close()


def test_an_idempotent_request_on_a_stale_connection_is_retried_on_a_new_one() -> None:
    origin = StaleOrigin()
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}") as p:
        for _ in range(3):
            assert request(p.port) == (200, b"fresh")
        s = p.stats()
        assert s["retries"] == 2 and s["upstream_failures"] == 0, s
        assert s["upstream_reuses"] == 2 and s["upstream_connects"] == 3
        assert s["upstreams_down"] == 0  # a stale pooled connection is not the upstream's fault
        # A POST is not repeated: it may have had effects. Its client is told.
        status, body = request(p.port, "/post", "POST", b"x")
        assert status == 502 and b"upstream failed" in body
    origin.close()


@pytest.mark.parametrize("model", MODEL_OPTIONS)
def test_one_of_two_upstreams_down_every_request_succeeds(model: dict,
                                                         origin: netlab.HttpServer) -> None:
    dead = dead_port()
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{dead} 127.0.0.1:{origin.port}",
                          **model) as p:
        for i in range(20):
            status, body = request(p.port, f"/get?i={i}")
            assert status == 200 and json.loads(body)["args"] == {"i": str(i)}
        s = p.stats()
        # The first request met the dead upstream, went on to the live one, and the dead one
        # was skipped from then on (max_fails=1, fail_timeout=10 s).
        assert s["upstream_requests"][f"127.0.0.1:{dead}"] == 1, s
        assert s["upstream_requests"][f"127.0.0.1:{origin.port}"] == 20
        assert s["retries"] == 1 and s["upstreams_down"] == 1 and s["upstream_failures"] == 0


def test_a_failed_upstream_is_tried_again_after_fail_timeout(origin: netlab.HttpServer) -> None:
    dead = dead_port()
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{dead} 127.0.0.1:{origin.port}",
                          fail_timeout=0.3) as p:
        assert request(p.port)[0] == 200 and p.stats()["upstreams_down"] == 1
        time.sleep(0.4)
        assert p.stats()["upstreams_down"] == 0
        # Round-robin comes back to the dead one within two requests: tried, failed, skipped.
        assert request(p.port)[0] == 200 and request(p.port)[0] == 200
        assert p.stats()["upstream_requests"][f"127.0.0.1:{dead}"] == 2
        assert p.stats()["upstreams_down"] == 1


def test_all_upstreams_down_gives_502_after_trying_each() -> None:
    a, b = dead_port(), dead_port()
    with netlab.HttpProxy(0, upstreams=[f"127.0.0.1:{a}", f"127.0.0.1:{b}"]) as p:
        status, body = request(p.port)
        assert status == 502 and b"upstream unavailable: refused" in body
        s = p.stats()
        assert s["retries"] == 1 and s["upstream_failures"] == 1 and s["upstreams_down"] == 2
        # Both down: one is still tried (a lone upstream that came back must not wait).
        assert request(p.port)[0] == 502
        assert sum(s for s in p.stats()["upstream_requests"].values()) == 4


def test_weights_share_the_requests(origin: netlab.HttpServer) -> None:
    with netlab.HttpServer(0) as other, netlab.HttpProxy(
            0, upstreams=f"127.0.0.1:{origin.port} weight=3, 127.0.0.1:{other.port}") as p:
        for _ in range(40):
            assert request(p.port)[0] == 200
        counts = p.stats()["upstream_requests"]
        assert counts == {f"127.0.0.1:{origin.port}": 30, f"127.0.0.1:{other.port}": 10}


def test_least_conn_avoids_the_busy_upstream(origin: netlab.HttpServer) -> None:
    with netlab.HttpServer(0) as other, netlab.HttpProxy(
            0, upstreams=[f"127.0.0.1:{origin.port}", f"127.0.0.1:{other.port}"],
            balance="least-conn") as p:
        slow = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        slow.request("GET", "/delay/1500")
        wait_until(lambda: sum(p.stats()["upstream_requests"].values()) == 1, 5)
        busy = next(k for k, v in p.stats()["upstream_requests"].items() if v == 1)
        for _ in range(6):
            assert request(p.port)[0] == 200
        counts = p.stats()["upstream_requests"]
        assert counts[busy] == 1 and sum(counts.values()) == 7, counts
        assert slow.getresponse().status == 200
        slow.close()


def test_round_robin_alternates_whatever_is_in_flight(origin: netlab.HttpServer) -> None:
    with netlab.HttpServer(0) as other, netlab.HttpProxy(
            0, upstreams=[f"127.0.0.1:{origin.port}", f"127.0.0.1:{other.port}"]) as p:
        for _ in range(6):
            assert request(p.port)[0] == 200
        assert sorted(p.stats()["upstream_requests"].values()) == [3, 3]


@pytest.mark.parametrize("bad, message", [
    ({"upstreams": "weight=2 127.0.0.1:1"}, "must follow a host:port"),
    ({"upstreams": "127.0.0.1:1 weight=0"}, "weight=1..1000"),
    ({"upstreams": "127.0.0.1:1", "balance": "random"}, "valid balances"),
])
def test_bad_balancing_options_are_refused_clearly(bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        netlab.HttpProxy(0, **bad)


def test_threaded_model_closes_its_idle_upstreams_with_the_client(
        origin: netlab.HttpServer) -> None:
    """A thread per client ends with its last connection: a parked upstream connection must
    not keep it alive for keepalive_timeout."""
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}", model="threaded") as p:
        assert request(p.port)[0] == 200
        wait_until(lambda: p.stats()["pool_idle"] == 0, 5)
        wait_until(lambda: origin.stats()["connections_active"] == 0, 5)
        wait_until(lambda: p.stats()["connections_active"] == 0, 5)


def test_a_connection_paused_by_a_slow_client_reads_again_once_pooled(
        origin: netlab.HttpServer) -> None:
    """A slow reader pauses the upstream; the response may end while it is paused. The next
    request on that pooled connection must be read, not left to upstream_timeout."""
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}", high_water=4096,
                          upstream_timeout=3) as p:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", p.port))
            sock.sendall(b"GET /bytes/300000 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            received = 0
            while piece := sock.recv(8192):
                received += len(piece)
                time.sleep(0.0005)
            sock.close()
            assert received > 300000
            start = time.monotonic()
            assert request(p.port)[0] == 200
            assert time.monotonic() - start < 2
        assert p.stats()["upstream_reuses"] >= 3 and p.stats()["upstream_failures"] == 0
