"""HttpServer, the httpbin-like origin: every route under every I/O model, real clients (curl,
wrk, http.client, urllib, requests), pipelining and keep-alive on a raw socket, and the
attacks: malformed and smuggling-shaped requests, limits, a client that never reads, a
pipelined flood of large replies, a client that drips bytes."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from typing import Iterator, Optional

import pytest
import requests

import netlab
from conftest import MODEL_OPTIONS, CliServer, connect, wait_until
from netlab.http import ConnectionClosed, Data, EndOfMessage, HttpError, Response, ResponseParser

pytestmark = pytest.mark.timeout(120)

ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


def pattern(n: int) -> bytes:
    """/bytes/N's body."""
    return (ALPHABET * (n // 64 + 1))[:n]


@pytest.fixture(params=MODEL_OPTIONS)
def server(request: pytest.FixtureRequest) -> Iterator[netlab.HttpServer]:
    with netlab.HttpServer(0, **request.param) as s:
        yield s


@pytest.fixture
def epoll_server() -> Iterator[netlab.HttpServer]:
    with netlab.HttpServer(0) as s:
        yield s


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True,
                          timeout=60)


class Exchange:
    """A raw client socket whose replies are read with netlab's own ResponseParser."""

    def __init__(self, port: int) -> None:
        self.sock = connect(port)
        self.parser = ResponseParser()

    def send(self, data: bytes, methods: list[str]) -> None:
        for method in methods:
            self.parser.expect_response_to(method)
        self.sock.sendall(data)

    def responses(self, n: int) -> list[tuple[Response, bytes]]:
        out: list[tuple[Response, bytes]] = []
        head: Optional[Response] = None
        body = b""
        while len(out) < n:
            event = self.parser.next_event()
            if isinstance(event, Response):
                head, body = event, b""
            elif isinstance(event, Data):
                body += event.data
            elif isinstance(event, EndOfMessage):
                assert head is not None
                if head.status >= 200:
                    out.append((head, body))
            elif isinstance(event, ConnectionClosed):
                raise ConnectionError(f"closed after {len(out)} of {n} responses")
            else:
                data = self.sock.recv(1 << 20)
                if data:
                    self.parser.feed(data)
                else:
                    self.parser.feed_eof()
        return out

    def closed_by_server(self) -> bool:
        self.sock.settimeout(5)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def get(port: int, target: str, headers: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode()


# --- routes, under every model -------------------------------------------------------------

def test_routes_answer_as_httpbin_does(server: netlab.HttpServer) -> None:
    u = server.url
    root = curl(u + "/")
    assert root.returncode == 0 and root.stdout.startswith(b"netlab HttpServer"), root
    doc = json.loads(curl(u + "/get?a=1&b=x+y&a=2&e=%C3%A9", "-H", "X-Test: yes").stdout)
    assert doc["args"] == {"a": ["1", "2"], "b": "x y", "e": "é"}
    assert doc["headers"]["X-Test"] == "yes" and doc["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert doc["origin"] == "127.0.0.1"
    assert doc["url"] == f"{u}/get?a=1&b=x+y&a=2&e=%C3%A9"
    body = b"some body \x00\xff" * 100
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        r = subprocess.run(["curl", "-sS", "-X", method, "--data-binary", "@-", f"{u}/{method.lower()}"],
                           input=body, capture_output=True, timeout=30)
        doc = json.loads(r.stdout)
        assert doc["method"] == method and doc["body_size"] == len(body)
        assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert json.loads(curl("-X", "PATCH", u + "/anything/x/y").stdout)["method"] == "PATCH"
    assert curl(u + "/bytes/100000").stdout == pattern(100000)
    lines = curl(u + "/stream/3").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2]
    assert {json.loads(line)["origin"] for line in lines} == {"127.0.0.1"}
    assert json.loads(curl(u + "/headers", "-H", "A: 1", "-H", "a: 2").stdout)["headers"]["A"] == "1, 2"
    assert json.loads(curl(u + "/ip").stdout) == {"origin": "127.0.0.1"}


def test_status_codes_head_and_errors(server: netlab.HttpServer) -> None:
    u = server.url

    def status(*args: str) -> tuple[int, str]:
        r = curl("-o", "/dev/null", "-D", "-", *args)
        first = r.stdout.split(b"\r\n", 1)[0].decode()
        return int(first.split()[1]), r.stdout.decode("latin-1")

    assert status(u + "/status/418")[0] == 418
    assert status(u + "/status/204")[0] == 204
    assert status(u + "/status/99")[0] == 400
    code, head = status(u + "/nowhere")
    assert code == 404
    code, head = status("-X", "PUT", u + "/get")
    assert code == 405 and "Allow: GET, HEAD, OPTIONS" in head
    code, head = status("-X", "OPTIONS", u + "/post")
    assert code == 204 and "Allow: POST, OPTIONS" in head
    head = curl("-I", u + "/bytes/12345").stdout.decode()  # HEAD: the fields, no body
    assert "Content-Length: 12345" in head and re.search(r"Date: \w{3}, \d\d \w{3} \d{4}", head)
    stats = server.stats()
    assert stats["responses"]["4xx"] == 4 and stats["requests"]["HEAD"] == 1  # 418 400 404 405
    assert stats["requests"]["OPTIONS"] == 1 and stats["errors"] == 0


def test_cache_routes_as_httpbin_has_them(server: netlab.HttpServer) -> None:
    """/cache/N says max-age=N; /cache gives validators and answers 304 to any it gets back."""
    head = curl("-D", "-", "-o", "/dev/null", server.url + "/cache/30").stdout.decode()
    assert "Cache-Control: public, max-age=30\r\n" in head
    r = curl("-D", "-", server.url + "/cache").stdout.decode()
    assert r.startswith("HTTP/1.1 200") and 'ETag: "netlab-cache"' in r and "Last-Modified: " in r
    assert json.loads(r.split("\r\n\r\n", 1)[1])["url"].endswith("/cache")
    for header in ('If-None-Match: "netlab-cache"', "If-Modified-Since: Thu, 01 Jan 2026 00:00:00 GMT"):
        r = curl("-D", "-", "-H", header, server.url + "/cache").stdout.decode()
        assert r.startswith("HTTP/1.1 304") and r.endswith("\r\n\r\n")
    assert curl("-o", "/dev/null", "-w", "%{http_code}", server.url + "/cache/x").stdout == b"400"


def test_pipelined_requests_are_answered_in_order(server: netlab.HttpServer) -> None:
    """Responses never overtake each other, not even behind a /delay or a streamed body."""
    x = Exchange(server.port)
    p = server.port
    wire = (get(p, "/delay/200") + get(p, "/bytes/300000") +
            f"HEAD /bytes/10 HTTP/1.1\r\nHost: h\r\n\r\n".encode() +
            b"POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n" + get(p, "/stream/2") + get(p, "/ip"))
    x.send(wire, ["GET", "GET", "HEAD", "POST", "GET", "GET"])
    replies = x.responses(6)
    assert json.loads(replies[0][1])["url"].endswith("/delay/200")
    assert replies[1][1] == pattern(300000)
    assert replies[2][0].content_length == 10 and replies[2][1] == b""
    assert json.loads(replies[3][1])["body_sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert replies[4][0].chunked and len(replies[4][1].splitlines()) == 2
    assert json.loads(replies[5][1]) == {"origin": "127.0.0.1"}
    x.close()


def test_python_clients_http_client_urllib_requests(server: netlab.HttpServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for i in range(3):  # one connection, kept alive
        conn.request("POST", "/anything", body=b"x" * i, headers={"X-I": str(i)})
        reply = conn.getresponse()
        doc = json.loads(reply.read())
        assert reply.status == 200 and doc["body_size"] == i and doc["headers"]["X-I"] == str(i)
    conn.close()
    with urllib.request.urlopen(server.url + "/get?q=1", timeout=10) as reply:
        assert json.loads(reply.read())["args"] == {"q": "1"}
    with requests.Session() as s:
        assert s.get(server.url + "/bytes/5000", timeout=10).content == pattern(5000)
        r = s.post(server.url + "/post", json={"a": 1}, timeout=10)
        assert r.json()["headers"]["Content-Type"] == "application/json"
    stats = server.stats()
    assert stats["connections_total"] == 3, stats  # http.client's, urllib's, the Session's


# --- curl and wrk --------------------------------------------------------------------------

def test_curl_reuses_the_connection_across_next(epoll_server: netlab.HttpServer) -> None:
    u = epoll_server.url
    r = curl("-v", u + "/get", "--next", u + "/ip", "--next", u + "/")
    assert r.returncode == 0
    assert r.stderr.count(b"Re-using existing connection") == 2, r.stderr.decode()
    assert epoll_server.stats()["connections_total"] == 1


def test_curl_uploads_100_mib_chunked(tmp_path, epoll_server: netlab.HttpServer) -> None:
    """`curl -T -` streams stdin with Transfer-Encoding: chunked (and Expect: 100-continue);
    the server hashes it on the fly."""
    path = tmp_path / "upload.bin"
    block = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB, not one repeated byte
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(800):
            piece = block[i % 97:] + block[:i % 97]
            f.write(piece)
            digest.update(piece)
    with open(path, "rb") as f:
        r = subprocess.run(["curl", "-sS", "-X", "POST", "-T", "-", epoll_server.url + "/post"],
                           stdin=f, capture_output=True, timeout=90)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["body_size"] == 100 << 20 and doc["body_sha256"] == digest.hexdigest()
    assert doc["headers"]["Transfer-Encoding"] == "chunked"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is installed by the test command")
@pytest.mark.parametrize("path", ["/", "/get", "/bytes/20000"])
def test_wrk_sees_no_errors(path: str, epoll_server: netlab.HttpServer) -> None:
    r = subprocess.run(["wrk", "-t1", "-c20", "-d2", epoll_server.url + path],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Socket errors" not in r.stdout and "Non-2xx" not in r.stdout, r.stdout
    done = int(re.search(r"(\d+) requests in", r.stdout).group(1))
    assert done > 100 and epoll_server.stats()["responses"]["2xx"] >= done


def test_cli_serves_http() -> None:
    with CliServer("http") as cli:
        r = curl(f"http://127.0.0.1:{cli.port}/get")
        assert json.loads(r.stdout)["url"].endswith("/get")
        code, output = cli.stop()
    assert code == 0, output


# --- protocol details ----------------------------------------------------------------------

def test_expect_100_continue(epoll_server: netlab.HttpServer) -> None:
    p = epoll_server.port
    x = Exchange(p)
    x.sock.sendall(b"PUT /put HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                   b"Content-Length: 5\r\n\r\n")
    x.sock.settimeout(5)
    assert x.sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    x.send(b"hello", ["PUT"])
    (head, body), = x.responses(1)
    assert head.status == 200 and json.loads(body)["body_size"] == 5
    x.close()
    # Refused before the body is sent: the final status instead of 100, then a close.
    y = Exchange(p)
    y.send(b"PUT /nowhere HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
           b"Content-Length: 5\r\n\r\n", ["PUT"])
    (head, _), = y.responses(1)
    assert head.status == 404 and not head.keep_alive and y.closed_by_server()
    y.close()


def test_http_1_0_keep_alive_rules(epoll_server: netlab.HttpServer) -> None:
    x = Exchange(epoll_server.port)
    x.send(b"GET /ip HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", ["GET"])
    (head, _), = x.responses(1)
    assert head.header("Connection") == "keep-alive"
    x.send(b"GET /ip HTTP/1.0\r\n\r\n", ["GET"])
    (head, _), = x.responses(1)
    assert head.header("Connection") == "close" and x.closed_by_server()
    x.close()


def test_a_half_closed_client_still_gets_its_answers(server: netlab.HttpServer) -> None:
    """shutdown(SHUT_WR) after pipelining, as `nc -N` does: every request is answered, even
    those waiting behind a delayed one, and then the server closes."""
    x = Exchange(server.port)
    x.send(get(server.port, "/delay/100") + get(server.port, "/ip") + get(server.port, "/"),
           ["GET", "GET", "GET"])
    x.sock.shutdown(socket.SHUT_WR)
    assert [head.status for head, _ in x.responses(3)] == [200, 200, 200]
    assert x.closed_by_server()
    x.close()


def test_delay_waits_on_a_timer_not_the_loop(epoll_server: netlab.HttpServer) -> None:
    slow = Exchange(epoll_server.port)
    slow.send(get(epoll_server.port, "/delay/1500"), ["GET"])
    time.sleep(0.1)
    start = time.monotonic()
    assert curl(epoll_server.url + "/ip").returncode == 0
    assert time.monotonic() - start < 1.0  # served while the other waits
    (head, _), = slow.responses(1)
    assert head.status == 200
    slow.close()


def test_a_request_waiting_behind_a_slow_response_is_not_timed_out() -> None:
    """The pipelined request is held by the server itself, not by a slow client: the message
    timeout must not count that wait."""
    with netlab.HttpServer(0, message_timeout=0.3) as s:
        x = Exchange(s.port)
        x.send(get(s.port, "/delay/1000") + get(s.port, "/ip"), ["GET", "GET"])
        assert [head.status for head, _ in x.responses(2)] == [200, 200]
        assert s.stats()["closes"]["message_timeout"] == 0
        x.close()


def test_stream_to_an_http_1_0_client_is_delimited_by_close(epoll_server: netlab.HttpServer) -> None:
    x = Exchange(epoll_server.port)
    x.send(b"GET /stream/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", ["GET"])
    (head, body), = x.responses(1)
    assert head.header("Transfer-Encoding") is None and head.header("Connection") == "close"
    assert [json.loads(line)["id"] for line in body.splitlines()] == [0, 1, 2]
    x.close()


def test_an_error_after_a_head_request_still_has_its_body(epoll_server: netlab.HttpServer) -> None:
    x = Exchange(epoll_server.port)
    x.send(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n\r\n", ["HEAD", "GET"])
    replies = x.responses(2)
    assert replies[1][0].status == 400 and replies[1][1] == b"missing Host header\n"
    x.close()


# --- bad input -----------------------------------------------------------------------------

SMUGGLING = {
    "cl_and_te": b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two_lengths": b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "bad_chunk_size": b"POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
    "te_not_chunked": b"POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
    "bare_cr": b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
    "no_host": b"GET / HTTP/1.1\r\n\r\n",
    "bad_host": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "length_trailing_comma": b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\nhello",
    "trailer_bare_lf": b"POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"0\r\n\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_smuggling_shapes_get_400_and_a_close(name: str, server: netlab.HttpServer) -> None:
    x = Exchange(server.port)
    x.send(SMUGGLING[name] + get(server.port, "/ip"), ["GET"])
    (head, body), = x.responses(1)
    assert head.status == 400 and head.header("Connection") == "close", (head, body)
    assert x.closed_by_server()
    x.close()
    wait_until(lambda: server.stats()["closes"]["protocol_error"] == 1, what="a protocol error")
    assert server.stats()["responses"] == {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 1, "5xx": 0}


def test_limits_give_413_414_431() -> None:
    with netlab.HttpServer(0, body_limit=1000, max_headers=10) as s:
        p = s.port
        cases = [
            (b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", 413),
            (b"POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             + b"200\r\n" + b"x" * 512 + b"\r\n" + b"200\r\n" + b"x" * 512 + b"\r\n", 413),
            (get(p, "/" + "a" * 9000), 414),
            (get(p, "/", "".join(f"X-{i}: v\r\n" for i in range(10))), 431),
            (get(p, "/", "X: " + "v" * 9000 + "\r\n"), 431),
        ]
        for wire, status in cases:
            x = Exchange(p)
            x.send(wire, ["POST"])
            (head, _), = x.responses(1)
            assert head.status == status, (wire[:60], head)
            assert x.closed_by_server()
            x.close()
        ok = curl("-X", "POST", "--data-binary", "x" * 1000, s.url + "/post")
        assert json.loads(ok.stdout)["body_size"] == 1000


def test_a_dripping_client_is_served(epoll_server: netlab.HttpServer) -> None:
    x = Exchange(epoll_server.port)
    x.parser.expect_response_to("POST")
    for byte in b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc":
        x.sock.send(bytes([byte]))
        time.sleep(0.001)
    (head, body), = x.responses(1)
    assert json.loads(body)["body_size"] == 3
    x.close()


def test_a_client_that_never_reads_costs_a_bounded_amount(epoll_server: netlab.HttpServer) -> None:
    """A 1 GiB download that is never read: the server produces it at the reader's pace, so
    it writes only what the socket buffers take, and others are still served."""
    x = Exchange(epoll_server.port)
    x.send(get(epoll_server.port, f"/bytes/{1 << 30}"), ["GET"])
    time.sleep(1.0)
    written = epoll_server.stats()["bytes_out"]
    assert written < 64 << 20, written
    assert curl(epoll_server.url + "/ip").returncode == 0
    time.sleep(0.5)
    assert epoll_server.stats()["bytes_out"] - written < 1 << 20  # still stalled
    x.close()


def test_a_pipelined_flood_of_large_replies_pauses_then_completes(server: netlab.HttpServer) -> None:
    """2,000 pipelined requests (12 MB of them) for 64 KiB each, not read at first: the server
    stops reading once its output passes the high-water mark, so the flood waits in TCP, not
    in the server's memory; then every one is answered, in order, none lost."""
    x = Exchange(server.port)
    n = 2000
    wire = get(server.port, "/bytes/65536", "X-Pad: " + "p" * 6000 + "\r\n") * n
    x.sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 2
    while sent < len(wire) and time.monotonic() < deadline:
        try:
            sent += x.sock.send(wire[sent:])
        except BlockingIOError:
            time.sleep(0.01)
    assert sent < len(wire), "the server kept reading requests it could not answer"
    assert server.stats()["bytes_out"] < 64 << 20
    x.sock.setblocking(True)
    x.sock.settimeout(30)
    rest = threading.Thread(target=lambda: x.sock.sendall(wire[sent:]))
    rest.start()
    for _ in range(n):
        x.parser.expect_response_to("GET")
    replies = x.responses(n)
    rest.join()
    assert all(body == pattern(65536) for _, body in replies)
    x.close()
