"""HttpProxy's gzip (gzip=True): curl --compressed and Python's http.client decode what it
sends; who gets it (Accept-Encoding with q-values, type, length, status, HEAD); the head it
sends (Content-Encoding, Vary, chunked, or until close for HTTP/1.0); streamed bodies of
megabytes; every model."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import subprocess
import zlib
from typing import Iterator

import pytest

import netlab
from conftest import MODEL_OPTIONS

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def proxy(origin: netlab.HttpServer) -> Iterator[netlab.HttpProxy]:
    with netlab.HttpProxy(0, upstreams=[f"127.0.0.1:{origin.port}"], gzip=True) as p:
        yield p


def fetch(url_port: int, path: str, method: str = "GET",
          **headers: str) -> tuple[http.client.HTTPResponse, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", url_port, timeout=30)
    c.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def stream_lines(body: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in body.decode().splitlines()]


def test_curl_compressed_gets_gzip_and_decodes_it(proxy: netlab.HttpProxy) -> None:
    r = subprocess.run(["curl", "-sS", "--max-time", "30", "--compressed", "-D", "-",
                        f"{proxy.url}/stream/2000"], capture_output=True, timeout=60, check=True)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    fields = head.decode().lower()
    assert "content-encoding: gzip" in fields and "vary: accept-encoding" in fields
    assert "transfer-encoding: chunked" in fields and "content-length" not in fields
    lines = stream_lines(body)
    assert [line["id"] for line in lines] == list(range(2000))
    plain = subprocess.run(["curl", "-sS", "--max-time", "30", "-D", "-",
                            f"{proxy.url}/stream/2000"], capture_output=True, timeout=60,
                           check=True).stdout
    assert b"content-encoding" not in plain.lower().partition(b"\r\n\r\n")[0]
    assert len(stream_lines(plain.partition(b"\r\n\r\n")[2])) == 2000
    assert proxy.stats()["gzipped"] == 1


def test_http_client_decodes_megabytes_streamed(proxy: netlab.HttpProxy,
                                                origin: netlab.HttpServer) -> None:
    r, body = fetch(proxy.port, "/stream/20000", Accept_Encoding="gzip")
    assert r.status == 200 and r.getheader("Content-Encoding") == "gzip"
    data = gzip.decompress(body)
    _, direct = fetch(origin.port, "/stream/20000")
    assert len(data) > 4_000_000 and len(body) < len(data) / 4
    assert [line["id"] for line in stream_lines(data)] == list(range(20000))
    assert len(data.splitlines()) == len(direct.splitlines())


def test_a_length_framed_json_body_becomes_chunked_gzip(proxy: netlab.HttpProxy,
                                                        origin: netlab.HttpServer) -> None:
    big = "x" * 300
    r, body = fetch(proxy.port, f"/get?pad={big}", Accept_Encoding="gzip, deflate")
    assert r.getheader("Content-Encoding") == "gzip" and r.getheader("Content-Length") is None
    assert r.getheader("Transfer-Encoding") == "chunked"
    assert json.loads(gzip.decompress(body))["args"] == {"pad": big}
    r, body = fetch(origin.port, f"/get?pad={big}", Accept_Encoding="gzip")
    assert r.getheader("Content-Encoding") is None  # the origin itself never compresses


@pytest.mark.parametrize("accept,compressed", [
    ("gzip", True), ("x-gzip", True), ("br, gzip;q=0.2", True), ("identity, *;q=0.5", True),
    ("gzip;q=0", False), ("gzip;q=0, *", False), ("*;q=0", False), ("br, deflate", False),
    (None, False),
])
def test_accept_encoding_and_q_values(proxy: netlab.HttpProxy, accept: str | None,
                                      compressed: bool) -> None:
    headers = {"Accept_Encoding": accept} if accept is not None else {}
    r, body = fetch(proxy.port, "/stream/50", **headers)
    assert (r.getheader("Content-Encoding") == "gzip") == compressed
    data = gzip.decompress(body) if compressed else body
    assert len(stream_lines(data)) == 50


def test_head_304_small_and_binary_responses_pass_untouched(proxy: netlab.HttpProxy) -> None:
    r, body = fetch(proxy.port, "/stream/50", "HEAD", Accept_Encoding="gzip")
    assert r.getheader("Content-Encoding") is None and body == b""
    r, _ = fetch(proxy.port, "/status/304", Accept_Encoding="gzip")
    assert r.status == 304 and r.getheader("Content-Encoding") is None
    r, body = fetch(proxy.port, "/ip", Accept_Encoding="gzip")  # under gzip_min_length
    assert r.getheader("Content-Encoding") is None and json.loads(body)["origin"]
    r, body = fetch(proxy.port, "/bytes/50000", Accept_Encoding="gzip")  # octet-stream
    assert r.getheader("Content-Encoding") is None and len(body) == 50000
    assert proxy.stats()["gzipped"] == 0


def test_options_level_min_length_and_types(origin: netlab.HttpServer) -> None:
    up = [f"127.0.0.1:{origin.port}"]
    sizes = {}
    for level in (1, 9):
        with netlab.HttpProxy(0, upstreams=up, gzip=True, gzip_level=level) as p:
            _, body = fetch(p.port, "/stream/3000", Accept_Encoding="gzip")
            sizes[level] = len(body)
            assert len(stream_lines(gzip.decompress(body))) == 3000
    assert sizes[9] < sizes[1]
    with netlab.HttpProxy(0, upstreams=up, gzip=True, gzip_min_length=0,
                          gzip_types="application/octet-stream") as p:
        r, body = fetch(p.port, "/bytes/5000", Accept_Encoding="gzip")
        assert r.getheader("Content-Encoding") == "gzip" and len(gzip.decompress(body)) == 5000
        r, _ = fetch(p.port, "/ip", Accept_Encoding="gzip")  # JSON is not listed now
        assert r.getheader("Content-Encoding") is None
    with netlab.HttpProxy(0, upstreams=up) as p:  # off by default
        r, _ = fetch(p.port, "/stream/100", Accept_Encoding="gzip")
        assert r.getheader("Content-Encoding") is None
    with pytest.raises(ValueError, match="gzip_types"):
        netlab.HttpProxy(0, upstreams=up, gzip=True, gzip_types="json")
    with pytest.raises(ValueError, match="gzip_level"):
        netlab.HttpProxy(0, upstreams=up, gzip=True, gzip_level=10)


def test_an_http10_client_gets_the_body_until_close(proxy: netlab.HttpProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as s:
        s.sendall(b"GET /stream/500 HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip" in head and b"Connection: close" in head
    assert b"Transfer-Encoding" not in head
    assert len(stream_lines(gzip.decompress(body))) == 500


@pytest.mark.parametrize("model", MODEL_OPTIONS)
def test_every_model(origin: netlab.HttpServer, model: dict[str, object]) -> None:
    with netlab.HttpProxy(0, upstreams=[f"127.0.0.1:{origin.port}"], gzip=True, **model) as p:
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
        for n in (10, 5000, 10):  # one keep-alive connection: each response ends cleanly
            c.request("GET", f"/stream/{n}", headers={"Accept-Encoding": "gzip"})
            r = c.getresponse()
            body = r.read()
            assert r.getheader("Content-Encoding") == "gzip"
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            assert len(stream_lines(d.decompress(body) + d.flush())) == n and d.eof
        c.close()
