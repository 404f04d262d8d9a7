"""HttpProxy's access log (Combined Log Format, then upstream, upstream time and request
time, written off the event loop) and its per-status counts, under every model."""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
from pathlib import Path

import pytest

import netlab
from conftest import MODEL_OPTIONS, CliServer, connect, wait_until

pytestmark = pytest.mark.timeout(120)

LINE = re.compile(
    r'^(?P<client>\S+) - - \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" '
    r'"(?P<agent>[^"]*)" (?P<upstream>\S+) (?P<upstream_time>\S+) (?P<request_time>\d+\.\d{3})$')


def entries(path: Path, count: int) -> list[dict[str, str]]:
    """The log's lines once there are `count` of them, each parsed (every line must parse)."""
    def lines() -> list[str]:
        return path.read_text().splitlines() if path.exists() else []
    wait_until(lambda: len(lines()) >= count, what=f"{count} access log lines")
    parsed = []
    for line in lines():
        m = LINE.match(line)
        assert m, f"not the log format: {line!r}"
        parsed.append(m.groupdict())
    assert len(parsed) == count, parsed
    return parsed


@pytest.mark.parametrize("options", MODEL_OPTIONS)
def test_each_exchange_is_one_line(options: dict, origin: netlab.HttpServer,
                                   tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    up = f"127.0.0.1:{origin.port}"
    with netlab.HttpProxy(0, upstreams=up, access_log=log, **options) as p:
        for path in ("/get", "/bytes/1234", "/status/404"):
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-e", "http://ref/",
                            "-A", 'agent "quoted"', p.url + path], check=True, timeout=30)
        sock = connect(p.port)
        sock.sendall(b"BAD REQUEST LINE\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
        sock.close()
        got = entries(log, 4)
        assert [e["request"] for e in got[:3]] == [
            "GET /get HTTP/1.1", "GET /bytes/1234 HTTP/1.1", "GET /status/404 HTTP/1.1"]
        assert [e["status"] for e in got] == ["200", "200", "404", "400"]
        assert got[1]["bytes"] == "1234"
        assert got[0]["referer"] == "http://ref/" and got[0]["agent"] == r"agent \x22quoted\x22"
        assert all(e["client"] == "127.0.0.1" and e["upstream"] == up for e in got[:3])
        assert all(0 <= float(e["upstream_time"]) <= float(e["request_time"]) + 0.001
                   for e in got[:3])
        assert got[3]["request"] == "-" and got[3]["upstream"] == "-"
        s = p.stats()
        assert s["statuses"] == {"200": 2, "404": 1, "400": 1}
        assert s["responses"]["2xx"] == 2 and s["responses"]["4xx"] == 2
        assert s["access_log_bytes"] == log.stat().st_size and s["access_log_dropped"] == 0
        assert s["access_log_errors"] == 0


def test_a_log_that_cannot_be_written_is_counted_and_the_proxy_goes_on(
        origin: netlab.HttpServer) -> None:
    """/dev/full fails every write with ENOSPC, as a full disk would."""
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}", access_log="/dev/full") as p:
        for _ in range(5):
            c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
            c.request("GET", "/get")
            assert c.getresponse().status == 200
            c.close()
        wait_until(lambda: p.stats()["access_log_errors"] > 0, 5)
        assert p.stats()["access_log_bytes"] == 0


def test_failures_retries_and_abandoned_requests(origin: netlab.HttpServer,
                                                 tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    dead, live = "127.0.0.1:9", f"127.0.0.1:{origin.port}"
    with netlab.HttpProxy(0, upstreams=dead, access_log=log) as p:
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        conn.request("GET", "/get")
        assert conn.getresponse().status == 502
        conn.close()
        (e,) = entries(log, 1)
        assert e["status"] == "502" and e["upstream"] == dead
    log.unlink()
    # The dead one first: the refused connect is retried on the live one, which answers.
    with netlab.HttpProxy(0, upstreams=[dead, live], access_log=log) as p:
        for _ in range(2):
            conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
            conn.request("GET", "/get")
            assert conn.getresponse().status == 200
            conn.close()
        assert [e["upstream"] for e in entries(log, 2)] == [live, live]
        # A client that gives up halfway through its upload: 499, as nginx logs it.
        def sent() -> int:
            return sum(p.stats()["upstream_requests"].values())
        before = sent()
        sock = connect(p.port)
        sock.sendall(b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123")
        wait_until(lambda: sent() == before + 1, what="the upload under way")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # a reset: the proxy's next read fails at once
        last = entries(log, 3)[2]
        assert last["status"] == "499" and last["request"] == "POST /post HTTP/1.1"


def test_many_requests_all_logged_from_the_command_line(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with CliServer("http") as origin, \
            CliServer("http-proxy", "--upstream", f"127.0.0.1:{origin.port}",
                      "--access-log", str(log)) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        for i in range(500):
            conn.request("GET", f"/get?i={i}")
            conn.getresponse().read()
        conn.close()
        got = entries(log, 500)
        assert [e["request"] for e in got] == [f"GET /get?i={i} HTTP/1.1" for i in range(500)]
        assert proxy.stop()[0] == 0 and origin.stop()[0] == 0


def test_an_unwritable_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="access_log: cannot open .*missing"):
        netlab.HttpProxy(0, upstreams="127.0.0.1:9", access_log=tmp_path / "missing" / "a.log")
