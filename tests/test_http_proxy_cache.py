"""HttpProxy's response cache (cache_size > 0), against a scripted origin that counts what
reaches it: hits served with the origin stopped, max-age expiry, no-store and private never
stored, Vary, revalidation by ETag and by Last-Modified (the origin answers 304), clients'
own conditional requests answered from the cache, 100 concurrent requests for one cold key
reaching the origin once, a client leaving mid-response storing nothing, the bound under
many keys, purge, and invalidation by an unsafe method."""

from __future__ import annotations

import gzip
import http.client
import http.server
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest

import netlab
from conftest import CliServer

pytestmark = pytest.mark.timeout(120)


class Route:
    def __init__(self, body: bytes = b"hello", headers: dict[str, str] | None = None,
                 delay: float = 0, etag: str | None = None,
                 last_modified: str | None = None, not_modified_headers: dict[str, str] | None = None,
                 drip: int = 0) -> None:
        self.body, self.headers, self.delay = body, headers or {}, delay
        self.etag, self.last_modified = etag, last_modified
        self.not_modified_headers = not_modified_headers or {}
        self.drip = drip  # > 0: the body is written in pieces of this size, 10 ms apart


class Origin:
    """An HTTP/1.1 origin whose routes the test sets; it records each request it gets."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with origin.lock:
                    origin.seen.append((self.command, self.path, dict(self.headers)))
                route = origin.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                time.sleep(route.delay)
                inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                if (route.etag and inm == route.etag) or (route.last_modified and ims == route.last_modified):
                    self.send_response(304)
                    for k, v in route.not_modified_headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    return
                self.send_response(200)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if not route.drip:
                    self.wfile.write(route.body)
                    return
                try:
                    for at in range(0, len(route.body), route.drip):
                        self.wfile.write(route.body[at:at + route.drip])
                        self.wfile.flush()
                        time.sleep(0.01)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the proxy gave up on this response

            do_GET = do_HEAD = do_POST = answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for _, p, _ in self.seen if p == path)

    def last(self, path: str) -> dict[str, str]:
        with self.lock:
            return [h for _, p, h in self.seen if p == path][-1]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origin() -> Iterator[Origin]:
    o = Origin()
    yield o
    o.stop()


@pytest.fixture
def proxy(origin: Origin) -> Iterator[netlab.HttpProxy]:
    with netlab.HttpProxy(0, upstreams=[f"127.0.0.1:{origin.port}"], cache_size=16 << 20,
                          keepalive=0) as p:
        yield p


def get(proxy: netlab.HttpProxy, path: str, method: str = "GET",
        **headers: str) -> tuple[http.client.HTTPResponse, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    c.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def test_a_hit_is_served_from_memory_even_with_the_origin_stopped(
        origin: Origin, proxy: netlab.HttpProxy) -> None:
    origin.routes["/a"] = Route(b"A" * 5000, {"Cache-Control": "max-age=60",
                                               "Content-Type": "text/plain"})
    r, body = get(proxy, "/a")
    assert r.status == 200 and r.getheader("X-Cache") == "MISS" and body == b"A" * 5000
    r, body = get(proxy, "/a")
    assert r.getheader("X-Cache") == "HIT" and body == b"A" * 5000
    assert r.getheader("Content-Type") == "text/plain" and r.getheader("Age") in ("0", "1")
    r, body = get(proxy, "/a", "HEAD")
    assert r.getheader("X-Cache") == "HIT" and r.getheader("Content-Length") == "5000"
    origin.stop()
    r, body = get(proxy, "/a")
    assert r.getheader("X-Cache") == "HIT" and body == b"A" * 5000
    assert origin.count("/a") == 1
    s = proxy.stats()
    assert s["cache_hits"] == 3 and s["cache_misses"] == 1 and s["cache_entries"] == 1
    assert 5000 < s["cache_bytes"] < 8000


def test_max_age_and_expires_run_out(origin: Origin, proxy: netlab.HttpProxy) -> None:
    origin.routes["/short"] = Route(headers={"Cache-Control": "max-age=1"})
    origin.routes["/expired"] = Route(headers={"Expires": "Thu, 01 Jan 1970 00:00:00 GMT"})
    origin.routes["/future"] = Route(headers={"Expires": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert get(proxy, "/short")[0].getheader("X-Cache") == "MISS"
    assert get(proxy, "/short")[0].getheader("X-Cache") == "HIT"
    time.sleep(1.2)
    assert get(proxy, "/short")[0].getheader("X-Cache") == "MISS"
    assert origin.count("/short") == 2
    for _ in range(2):
        get(proxy, "/expired")
        get(proxy, "/future")
    assert origin.count("/expired") == 2 and origin.count("/future") == 1


@pytest.mark.parametrize("headers", [
    {"Cache-Control": "no-store, max-age=60"}, {"Cache-Control": "private, max-age=60"},
    {"Cache-Control": "max-age=60", "Vary": "*"}, {"Cache-Control": "max-age=60", "Set-Cookie": "a=1"},
    {},  # no freshness stated, and no heuristics
])
def test_responses_a_shared_cache_must_not_store(origin: Origin, proxy: netlab.HttpProxy,
                                                 headers: dict[str, str]) -> None:
    origin.routes["/n"] = Route(headers=headers)
    for _ in range(3):
        r, body = get(proxy, "/n")
        assert r.status == 200 and body == b"hello" and r.getheader("X-Cache") == "MISS"
    assert origin.count("/n") == 3 and proxy.stats()["cache_entries"] == 0


def test_requests_that_bypass_the_cache(origin: Origin, proxy: netlab.HttpProxy) -> None:
    origin.routes["/b"] = Route(headers={"Cache-Control": "max-age=60"})
    get(proxy, "/b")
    r, _ = get(proxy, "/b", Cache_Control="no-store")
    assert r.getheader("X-Cache") == "BYPASS"
    r, _ = get(proxy, "/b", Authorization="Bearer x")
    assert r.getheader("X-Cache") == "BYPASS"
    r, _ = get(proxy, "/b", Cache_Control="no-cache")  # no validators: fetched anew
    assert r.getheader("X-Cache") == "MISS"
    assert origin.count("/b") == 4 and proxy.stats()["cache_bypasses"] == 2


def test_vary_keeps_one_variant_per_value(origin: Origin, proxy: netlab.HttpProxy) -> None:
    origin.routes["/v"] = Route(headers={"Cache-Control": "max-age=60", "Vary": "Accept-Language"})
    for lang in ("en", "fr", "en", "fr"):
        get(proxy, "/v", Accept_Language=lang)
    r, _ = get(proxy, "/v")  # no Accept-Language at all is a value of its own
    assert r.getheader("X-Cache") == "MISS"
    assert origin.count("/v") == 3 and proxy.stats()["cache_entries"] == 3


def test_etag_revalidation_with_a_304_refreshes_the_entry(origin: Origin,
                                                          proxy: netlab.HttpProxy) -> None:
    origin.routes["/e"] = Route(b"v1 body", {"Cache-Control": "max-age=1", "X-Version": "1"},
                                etag='"v1"',
                                not_modified_headers={"Cache-Control": "max-age=60", "X-Version": "2"})
    assert get(proxy, "/e")[0].getheader("X-Cache") == "MISS"
    time.sleep(1.2)
    r, body = get(proxy, "/e")
    assert r.status == 200 and body == b"v1 body" and r.getheader("X-Cache") == "REVALIDATED"
    assert r.getheader("X-Version") == "2"  # the 304's fields replace the stored ones
    assert origin.last("/e")["If-None-Match"] == '"v1"'
    r, body = get(proxy, "/e")
    assert r.getheader("X-Cache") == "HIT" and body == b"v1 body"
    assert origin.count("/e") == 2 and proxy.stats()["cache_revalidations"] == 1


def test_last_modified_revalidation_and_no_cache(origin: Origin, proxy: netlab.HttpProxy) -> None:
    lm = "Tue, 10 Nov 2026 08:00:00 GMT"
    origin.routes["/m"] = Route(b"m", {"Cache-Control": "no-cache"}, last_modified=lm)
    assert get(proxy, "/m")[0].getheader("X-Cache") == "MISS"
    for _ in range(2):  # no-cache: stored, but every use is confirmed first
        r, body = get(proxy, "/m")
        assert r.getheader("X-Cache") == "REVALIDATED" and body == b"m"
        assert origin.last("/m")["If-Modified-Since"] == lm
    assert origin.count("/m") == 3


def test_clients_conditional_requests_are_answered_from_the_cache(
        origin: Origin, proxy: netlab.HttpProxy) -> None:
    lm = "Tue, 10 Nov 2026 08:00:00 GMT"
    origin.routes["/c"] = Route(b"c" * 100, {"Cache-Control": "max-age=60"}, etag='W/"c1"',
                                last_modified=lm)
    get(proxy, "/c")
    r, body = get(proxy, "/c", If_None_Match='"x", "c1"')
    assert r.status == 304 and body == b"" and r.getheader("ETag") == 'W/"c1"'
    assert r.getheader("X-Cache") == "HIT" and r.getheader("Cache-Control") == "max-age=60"
    r, body = get(proxy, "/c", If_None_Match='"other"')
    assert r.status == 200 and body == b"c" * 100
    r, _ = get(proxy, "/c", If_Modified_Since="Wed, 11 Nov 2026 08:00:00 GMT")
    assert r.status == 304
    r, _ = get(proxy, "/c", If_Modified_Since="Mon, 09 Nov 2026 08:00:00 GMT")
    assert r.status == 200
    assert origin.count("/c") == 1


@pytest.mark.parametrize("model", [{"model": "epoll"}, {"model": "epoll", "workers": 2},
                                   {"model": "threaded"}, {"model": "poll"}],
                         ids=["epoll", "epoll-2workers", "threaded", "poll"])
def test_concurrent_misses_for_one_key_reach_the_origin_once(origin: Origin,
                                                             model: dict[str, Any]) -> None:
    origin.routes["/slow"] = Route(b"S" * 20000, {"Cache-Control": "max-age=60"}, delay=0.5)
    with netlab.HttpProxy(0, upstreams=[f"127.0.0.1:{origin.port}"], cache_size=1 << 20,
                          **model) as p:
        with ThreadPoolExecutor(100) as pool:
            results = list(pool.map(lambda _: get(p, "/slow"), range(100)))
        assert all(r.status == 200 and body == b"S" * 20000 for r, body in results)
        assert origin.count("/slow") == 1
        caches = sorted(r.getheader("X-Cache") or "" for r, _ in results)
        assert caches.count("MISS") == 1 and caches.count("HIT") == 99


def test_a_client_leaving_mid_response_stores_nothing(origin: Origin,
                                                      proxy: netlab.HttpProxy) -> None:
    origin.routes["/big"] = Route(b"B" * 1_000_000, {"Cache-Control": "max-age=60"}, drip=32768)
    c = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    c.request("GET", "/big")
    r = c.getresponse()
    assert r.read(100_000) == b"B" * 100_000
    c.close()
    time.sleep(0.6)  # what the origin still sends goes nowhere
    assert proxy.stats()["cache_entries"] == 0
    r, body = get(proxy, "/big")
    assert r.getheader("X-Cache") == "MISS" and body == b"B" * 1_000_000
    assert get(proxy, "/big")[0].getheader("X-Cache") == "HIT"


def test_the_cache_stays_within_its_bound(origin: Origin) -> None:
    body = b"k" * 60_000
    for i in range(60):
        origin.routes[f"/k{i}"] = Route(body, {"Cache-Control": "max-age=60"})
    origin.routes["/huge"] = Route(b"h" * 300_000, {"Cache-Control": "max-age=60"})
    with netlab.HttpProxy(0, upstreams=[f"127.0.0.1:{origin.port}"], cache_size=1 << 20,
                          cache_max_entry=200_000) as p:
        for i in range(60):
            assert get(p, f"/k{i}")[1] == body
            assert p.stats()["cache_bytes"] <= 1 << 20
        s = p.stats()
        assert s["cache_evictions"] >= 40 and 10 <= s["cache_entries"] <= 17
        assert get(p, "/k59")[0].getheader("X-Cache") == "HIT"  # the most recent stay
        assert get(p, "/k0")[0].getheader("X-Cache") == "MISS"  # the oldest went
        for _ in range(2):  # larger than cache_max_entry: streamed through, never stored
            r, b = get(p, "/huge")
            assert r.getheader("X-Cache") == "MISS" and len(b) == 300_000


def test_rss_stays_bounded_under_a_stream_of_distinct_keys(origin: Origin) -> None:
    """96 MiB of distinct cacheable responses through an 8 MiB cache: the proxy process
    grows by the cache's bound and some slack, not by what passed through."""
    body = b"r" * 65536
    for i in range(1500):
        origin.routes[f"/r{i}"] = Route(body, {"Cache-Control": "max-age=600"})
    with CliServer("http-proxy", "--upstream", f"127.0.0.1:{origin.port}",
                   "--cache-size", str(8 << 20)) as p:
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)

        def fetch(i: int) -> None:
            c.request("GET", f"/r{i}")
            r = c.getresponse()
            assert r.read() == body and r.getheader("X-Cache") == "MISS"

        for i in range(100):  # the cache fills: what is there from now on is its bound
            fetch(i)
        before = p.rss_kib()
        for i in range(100, 1500):
            fetch(i)
        grown_mib = (p.rss_kib() - before) / 1024
        c.close()
        assert grown_mib < 24, f"RSS grew {grown_mib:.1f} MiB"
        assert p.stop()[0] == 0


def test_purge_and_invalidation_by_an_unsafe_method(origin: Origin,
                                                    proxy: netlab.HttpProxy) -> None:
    for path in ("/p1", "/p2", "/p3"):
        origin.routes[path] = Route(headers={"Cache-Control": "max-age=60"})
        get(proxy, path)
    assert proxy.purge("/p1") == 1
    assert get(proxy, "/p1")[0].getheader("X-Cache") == "MISS"
    c = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    c.request("POST", "/p2", body=b"x")
    assert c.getresponse().read() == b"hello"
    c.close()
    assert get(proxy, "/p2")[0].getheader("X-Cache") == "MISS"
    assert get(proxy, "/p3")[0].getheader("X-Cache") == "HIT"
    assert proxy.purge() == 3 and proxy.stats()["cache_entries"] == 0


def test_a_cached_response_is_gzipped_for_clients_that_ask(origin: Origin) -> None:
    doc = b'{"items": [' + b", ".join(b'{"n": %d}' % i for i in range(500)) + b"]}"
    origin.routes["/j"] = Route(doc, {"Cache-Control": "max-age=60",
                                      "Content-Type": "application/json"})
    with netlab.HttpProxy(0, upstreams=[f"127.0.0.1:{origin.port}"], cache_size=1 << 20,
                          gzip=True) as p:
        get(p, "/j")
        r, body = get(p, "/j", Accept_Encoding="gzip")
        assert r.getheader("X-Cache") == "HIT" and r.getheader("Content-Encoding") == "gzip"
        assert gzip.decompress(body) == doc
        r, body = get(p, "/j")
        assert r.getheader("Content-Encoding") is None and body == doc
