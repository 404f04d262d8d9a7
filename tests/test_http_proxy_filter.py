"""HttpProxy's configuration at work on requests: fields set and removed on the way to the
upstream, deny rules answered 403 (method, path prefix, client address), and the
per-address request rate answered 429 with Retry-After."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
import pytest

import netlab
from conftest import CliServer

pytestmark = pytest.mark.timeout(60)


def request(port: int, path: str = "/get", method: str = "GET",
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def seen_fields(port: int, headers: dict[str, str] | None = None) -> dict[str, str]:
    status, _, body = request(port, "/headers", headers=headers)
    assert status == 200
    return {k.lower(): v for k, v in json.loads(body)["headers"].items()}


def test_fields_are_set_and_removed(origin: netlab.HttpServer) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}",
                          set_headers={"Authorization": "Bearer s3cret", "X-Env": "lab"},
                          remove_headers=["X-Debug", "Via", "User-Agent"]) as p:
        fields = seen_fields(p.port, {"Authorization": "Basic eA==", "X-Debug": "1",
                                      "X-Kept": "yes", "User-Agent": "test"})
    assert fields["authorization"] == "Bearer s3cret"  # replaced, not doubled
    assert fields["x-env"] == "lab" and fields["x-kept"] == "yes"
    for gone in ("x-debug", "via", "user-agent"):
        assert gone not in fields, fields
    assert fields["x-forwarded-for"] == "127.0.0.1"


def test_host_may_be_set(origin: netlab.HttpServer) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}",
                          set_headers=["Host: api.internal"]) as p:
        assert seen_fields(p.port)["host"] == "api.internal"


@pytest.mark.parametrize("rule, path, method, denied", [
    ("method=DELETE", "/delete", "DELETE", True),
    ("method=DELETE", "/get", "GET", False),
    ("path=/admin", "/admin/users", "GET", True),
    ("path=/admin", "/get", "GET", False),
    ("from=127.0.0.0/8", "/get", "GET", True),
    ("from=10.0.0.0/8,192.168.0.0/16", "/get", "GET", False),
    ("from=::1", "/get", "GET", False),  # an IPv6 block never holds an IPv4 client
    ("method=POST,PUT path=/post from=127.0.0.1", "/post", "PUT", True),
    ("method=POST,PUT path=/post from=127.0.0.1", "/get", "PUT", False),
])
def test_deny_rules(origin: netlab.HttpServer, rule: str, path: str, method: str,
                    denied: bool) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}", deny=[rule]) as p:
        status, _, body = request(p.port, path, method)
        if denied:
            assert status == 403 and f"denied by rule: {rule}".encode() in body
            assert p.stats()["denied"] == 1 and p.stats()["upstream_connects"] == 0
        else:
            assert status in (200, 405), (status, body)  # the origin answered
            assert p.stats()["denied"] == 0


def test_rate_limit_answers_429_with_retry_after(origin: netlab.HttpServer) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}", rate_limit=4,
                          rate_burst=3) as p:
        statuses = [request(p.port)[0] for _ in range(3)]
        status, fields, body = request(p.port)
        assert statuses == [200, 200, 200] and status == 429, (statuses, status)
        assert fields["retry-after"] == "1" and b"too many requests from 127.0.0.1" in body
        assert p.stats()["rate_limited"] == 1
        time.sleep(0.3)  # a quarter of a second refills one token at 4 a second
        assert request(p.port)[0] == 200


def test_the_command_line_takes_repeated_edits_and_rules(origin: netlab.HttpServer) -> None:
    with CliServer("http-proxy", "--upstream", f"127.0.0.1:{origin.port}",
                   "--set-header", "X-A: 1", "--set-header", "X-B: two words",
                   "--remove-header", "User-Agent", "--deny", "path=/admin; method=DELETE") as p:
        fields = seen_fields(p.port)
        assert fields["x-a"] == "1" and fields["x-b"] == "two words"
        assert "user-agent" not in fields
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{p.port}/admin"], capture_output=True, timeout=30)
        assert r.stdout == b"403"
        assert request(p.port, "/delete", "DELETE")[0] == 403
        assert p.stop()[0] == 0


@pytest.mark.parametrize("bad, message", [
    ({"set_headers": "NoColonHere"}, "is not 'Name: value'"),
    ({"set_headers": "Bad Name: x"}, "is not 'Name: value'"),
    ({"remove_headers": "Host"}, "Host cannot be removed"),
    ({"deny": "colour=blue"}, "unknown condition 'colour'"),
    ({"deny": "from=300.0.0.1"}, "is not an IP address"),
    ({"deny": "from=10.0.0.0/33"}, "prefix must be 0..32"),
    ({"deny": "path=admin"}, "starts with '/'"),
    ({"rate_limit": -1}, "rate_limit"),
])
def test_bad_filter_options_are_refused_clearly(bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        netlab.HttpProxy(0, upstreams="127.0.0.1:9", **bad)
