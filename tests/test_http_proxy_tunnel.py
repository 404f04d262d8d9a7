"""CONNECT through HttpProxy: curl's --proxytunnel to an allowed and a denied target under
every model, bytes both ways with backpressure and half-close, early data sent before the
proxy's answer, a refused target, and the allowlist's clear errors."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from typing import Iterator

import pytest

import netlab
from conftest import MODEL_OPTIONS, CliServer, connect, recv_exact, wait_until
from test_http_server import pattern

pytestmark = pytest.mark.timeout(120)

ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"


@pytest.fixture(params=MODEL_OPTIONS)
def tunnel_proxy(request: pytest.FixtureRequest,
                 origin: netlab.HttpServer) -> Iterator[netlab.HttpProxy]:
    """A proxy whose allowlist holds the origin and nothing else."""
    with netlab.HttpProxy(0, upstreams=[f"127.0.0.1:{origin.port}"],
                          connect_allow=[f"127.0.0.1:{origin.port}"], **request.param) as p:
        yield p


def curl_tunnel(proxy_port: int, url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["curl", "-sS", "--max-time", "60", "-p", "-x",
                           f"http://127.0.0.1:{proxy_port}", *args, url],
                          capture_output=True, timeout=90)


def connect_through(proxy_port: int, target: str, early: bytes = b"") -> socket.socket:
    """A socket tunnelled to `target`, the proxy's answer read; `early` is sent with the
    CONNECT, before that answer (as a TLS client may send its hello)."""
    sock = connect(proxy_port)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode() + early)
    assert recv_exact(sock, len(ESTABLISHED)) == ESTABLISHED
    return sock


def test_curl_tunnels_to_an_allowed_target_and_is_refused_elsewhere(
        tunnel_proxy: netlab.HttpProxy, origin: netlab.HttpServer) -> None:
    ok = curl_tunnel(tunnel_proxy.port, f"http://127.0.0.1:{origin.port}/bytes/300000")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == pattern(300000)
    # The same origin by another name, and another port: neither is on the list.
    for url in (f"http://localhost:{origin.port}/get", "http://127.0.0.1:9/get"):
        denied = curl_tunnel(tunnel_proxy.port, url)
        assert denied.returncode == 56 and b"response 403" in denied.stderr, denied.stderr
    s = tunnel_proxy.stats()
    assert s["tunnels"] == 1 and s["denied"] == 2
    assert s["statuses"] == {"200": 1, "403": 2} and s["upstream_connects"] == 0
    # The tunnel carried HTTP the proxy never parsed: no request went to an upstream.
    assert sum(s["upstream_requests"].values()) == 0


def test_bytes_flow_both_ways_with_early_data_and_half_close(
        echo_server: netlab.EchoServer) -> None:
    target = f"127.0.0.1:{echo_server.port}"
    with netlab.HttpProxy(0, upstreams=target, connect_allow=target) as p:
        sock = connect_through(p.port, target, early=b"hello before the answer\n")
        assert recv_exact(sock, 24) == b"hello before the answer\n"
        sock.sendall(b"x" * 100000)
        assert recv_exact(sock, 100000) == b"x" * 100000
        sock.shutdown(socket.SHUT_WR)  # passed on: the echo server closes, and so do we
        sock.settimeout(10)
        assert sock.recv(1) == b""
        sock.close()
        wait_until(lambda: p.stats()["connections_active"] == 0, what="both ends closed")


def test_a_tunnel_that_the_client_does_not_read_pauses_the_target(
        origin: netlab.HttpServer) -> None:
    """64 MiB through a tunnel whose client stops reading: the proxy holds a bounded amount
    (the origin's writes stall), then every byte arrives."""
    target = f"127.0.0.1:{origin.port}"
    size = 64 << 20
    with netlab.HttpProxy(0, upstreams=target, connect_allow=target) as p:
        sock = connect_through(p.port, target)
        sock.sendall(f"GET /bytes/{size} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        time.sleep(1.0)
        assert origin.stats()["bytes_out"] < 24 << 20
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        received = 0
        while received < size:
            chunk = sock.recv(1 << 20)
            assert chunk, f"closed after {received} of {size} bytes"
            received += len(chunk)
        assert received == size
        sock.close()


def test_a_refused_target_is_502_and_a_bad_one_400() -> None:
    with netlab.HttpProxy(0, upstreams="127.0.0.1:9", connect_allow="127.0.0.1:*") as p:
        sock = connect(p.port)
        sock.sendall(b"CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n")
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 502") and b"refused" in answer
        sock.close()
        for target in ("127.0.0.1", ":80", "127.0.0.1:99999"):
            sock = connect(p.port)
            sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 400"), target
            sock.close()
        assert p.stats()["upstream_failures"] == 1 and p.stats()["tunnels"] == 0


def test_the_client_closing_closes_a_silent_target() -> None:
    """A target that accepts and says nothing: once the client goes, the proxy closes its
    side of the tunnel too, and nothing is left open."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    target = f"127.0.0.1:{silent.getsockname()[1]}"
    with netlab.HttpProxy(0, upstreams=target, connect_allow=target) as p:
        sock = connect(p.port)
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        accepted, _ = silent.accept()  # the kernel accepted it; the target says nothing
        assert sock.recv(4096) == ESTABLISHED
        sock.close()
        accepted.settimeout(10)
        assert accepted.recv(1) == b""  # the proxy passed the close on
        accepted.close()
        wait_until(lambda: p.stats()["connections_active"] == 0, what="the tunnel closed")
    silent.close()


def test_deny_rules_and_the_rate_limit_apply_to_connect(origin: netlab.HttpServer) -> None:
    target = f"127.0.0.1:{origin.port}"
    with netlab.HttpProxy(0, upstreams=target, connect_allow="*:*",
                          deny="method=CONNECT from=127.0.0.0/8") as p:
        r = curl_tunnel(p.port, f"http://{target}/get")
        assert b"response 403" in r.stderr and p.stats()["denied"] == 1


def test_many_tunnels_at_once(origin: netlab.HttpServer) -> None:
    target = f"127.0.0.1:{origin.port}"
    with netlab.HttpProxy(0, upstreams=target, connect_allow=target) as p:
        errors: list[str] = []

        def one(i: int) -> None:
            try:
                sock = connect_through(p.port, target)
                sock.sendall(f"GET /bytes/{1000 + i} HTTP/1.1\r\nHost: h\r\n"
                             "Connection: close\r\n\r\n".encode())
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                assert data.endswith(pattern(1000 + i)), i
                sock.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert p.stats()["tunnels"] == 100


def test_the_command_line_and_bad_allowlists() -> None:
    with CliServer("http") as origin, \
            CliServer("http-proxy", "--upstream", f"127.0.0.1:{origin.port}",
                      "--connect-allow", f"127.0.0.1:{origin.port}") as proxy:
        r = curl_tunnel(proxy.port, f"http://127.0.0.1:{origin.port}/get")
        assert r.returncode == 0 and b'"url"' in r.stdout
        assert proxy.stop()[0] == 0 and origin.stop()[0] == 0
    for bad, words in (("example.com", "is not host:port"), ("h:0", "port 1..65535"),
                       ("b@d:80", "no host name")):
        with pytest.raises(ValueError, match=words):
            netlab.HttpProxy(0, upstreams="127.0.0.1:9", connect_allow=bad)
