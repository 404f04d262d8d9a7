"""The http load scenario and the wrk-style `bench URL` command: status codes counted, non-2xx
apart from transport errors, responses checked by their framing (a server that frames
wrongly shows as errors), keep-alive on and off, methods, bodies, headers, several paths."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from typing import Iterator

import pytest

import netlab
from netlab.load import parse_url

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def server() -> Iterator[netlab.HttpServer]:
    with netlab.HttpServer(0) as s:
        yield s


def run(port: int, **options: object) -> netlab.LoadResult:
    settings: dict[str, object] = {"scenario": "http", "connections": 4, "threads": 1,
                                   "requests": 400}
    settings.update(options)
    return netlab.LoadGenerator("127.0.0.1", port, **settings).run()


def test_get_with_keep_alive(server: netlab.HttpServer) -> None:
    r = run(server.port, path="/get")
    assert r.responses == 400 and r.errors == 0 and r.non_2xx == 0
    assert r.status_codes == {200: 400}
    assert r.connections_opened == 4  # kept alive
    assert server.stats()["requests"] == {"GET": 400}


def test_paths_in_turn_and_non_2xx_apart_from_errors(server: netlab.HttpServer) -> None:
    r = run(server.port, path=["/", "/status/404", "/status/503", "/bytes/3000"])
    assert r.errors == 0 and r.responses == 400
    assert r.status_codes == {200: 200, 404: 100, 503: 100} and r.non_2xx == 200
    assert "status 200: 200  404: 100  503: 100  (non-2xx 200)" in r.summary()


def test_post_body_and_headers_reach_the_server(server: netlab.HttpServer) -> None:
    r = run(server.port, method="POST", path="/post", body=b"x" * 5000,
            headers={"X-Load": "1", "Content-Type": "application/octet-stream"}, requests=50)
    assert r.responses == 50 and r.errors == 0
    assert server.stats()["requests"] == {"POST": 50}
    assert server.stats()["bytes_in"] > 50 * 5000


def test_head_and_streamed_chunked_responses(server: netlab.HttpServer) -> None:
    assert run(server.port, method="HEAD", path="/bytes/100000").status_codes == {200: 400}
    r = run(server.port, path="/stream/5", requests=100)
    assert r.responses == 100 and r.errors == 0


def test_without_keep_alive_each_request_has_its_connection(server: netlab.HttpServer) -> None:
    r = run(server.port, path="/ip", keep_alive=False, requests=100)
    assert r.responses == 100 and r.errors == 0 and r.connections_opened == 100


def test_open_loop_pipelined(server: netlab.HttpServer) -> None:
    r = run(server.port, path="/", rate=2000, duration=1.0, requests=0, pipeline=4)
    assert r.errors == 0 and r.open_loop and 1500 < r.responses <= 2100


class BrokenOrigin:
    """Answers every request with a chunked body whose chunk size is not hex: a framing
    error a load generator must not count as a response."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        with conn:
            while conn.recv(65536):
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"zz\r\nhello\r\n0\r\n\r\n")


def test_a_server_that_frames_wrongly_shows_as_errors() -> None:
    origin = BrokenOrigin()
    r = netlab.LoadGenerator("127.0.0.1", origin.port, scenario="http", connections=2,
                             requests=20, threads=1, response_timeout=2).run()
    origin.listener.close()
    assert r.responses == 0 and r.errors > 0
    assert r.errors_by_kind["protocol"] > 0, r.summary()
    assert "invalid chunk size" in r.error_messages["protocol"]


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="method must be a token"):
        netlab.LoadGenerator("127.0.0.1", 1, scenario="http", method="GE T", requests=1)
    with pytest.raises(ValueError, match="must start with /"):
        netlab.LoadGenerator("127.0.0.1", 1, scenario="http", path="get", requests=1)
    with pytest.raises(ValueError, match="is not 'Name: value'"):
        netlab.LoadGenerator("127.0.0.1", 1, scenario="http", headers="oops", requests=1)
    assert parse_url("http://localhost:8080/a?b=1") == ("localhost", 8080, "/a?b=1")
    assert parse_url("http://h") == ("h", 80, "/")
    with pytest.raises(ValueError, match="only http://"):
        parse_url("https://h/")


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netlab", "bench", *args], capture_output=True,
                          text=True, timeout=60)


def test_bench_url_wrk_style(tmp_path, server: netlab.HttpServer) -> None:
    r = bench(f"{server.url}/status/201", "-c", "4", "-d", "1", "-t", "1",
              "-H", "X-A: 1", "-H", "X-B: 2", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["errors"] == 0 and doc["responses"] > 100
    assert doc["status_codes"] == {"201": doc["responses"]}
    body = tmp_path / "body.json"
    body.write_text('{"a": 1}')
    r = bench(f"{server.url}/post", "-m", "POST", "--body", f"@{body}", "-n", "50", "-c", "2")
    assert r.returncode == 0, r.stderr
    assert "status 200: 50" in r.stdout
    assert server.stats()["requests"]["POST"] == 50
    r = bench(f"{server.url}/", "-R", "500", "-d", "1", "-c", "5", "--no-keep-alive")
    assert r.returncode == 0, r.stderr
    assert "open loop at 500 req/s" in r.stdout
