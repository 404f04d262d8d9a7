"""HttpProxy beside nginx (Debian's nginx-light): nginx as the upstream of HttpProxy, and
HttpProxy as the upstream of nginx's proxy_pass with a keep-alive upstream pool, each way
with bodies both ways, HEAD, chunked responses and connection reuse."""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

import netlab
from conftest import free_port, wait_until
from test_http_server import pattern

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                       reason="needs nginx (apt-get install nginx-light)"),
]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """One nginx process (no master, no daemon) serving `server_block` on a free port."""

    def __init__(self, tmp: Path, server_block: str, upstream_block: str = "") -> None:
        self.port, self.tmp = free_port(), tmp
        conf = tmp / f"nginx-{self.port}.conf"
        conf.write_text(f"""
worker_processes 1;
daemon off;
master_process off;
pid {tmp}/nginx-{self.port}.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {tmp}/nginx-access.log;
  client_body_temp_path {tmp};
  proxy_temp_path {tmp};
  fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  {upstream_block}
  server {{
    listen 127.0.0.1:{self.port};
    {server_block}
  }}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-c", str(conf)], stderr=subprocess.PIPE)
        wait_until(self._listening, what="nginx listening")

    def _listening(self) -> bool:
        assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def nginx_origin(tmp_path: Path) -> Iterator[Nginx]:
    """nginx serving a 1 MiB file and a fixed text."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "big.bin").write_bytes(pattern(1 << 20))
    server = Nginx(tmp_path, f"""
    keepalive_requests 1000;
    root {tmp_path}/www;
    location = /text {{ default_type text/plain; return 200 "from nginx\\n"; }}
""")
    yield server
    server.stop()


def test_nginx_as_the_upstream(nginx_origin: Nginx) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{nginx_origin.port}") as p:
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        for _ in range(5):
            conn.request("GET", "/text")
            r = conn.getresponse()
            assert r.status == 200 and r.read() == b"from nginx\n"
            assert r.getheader("Server", "").startswith("nginx")
        conn.request("GET", "/big.bin")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == pattern(1 << 20)
        conn.request("HEAD", "/big.bin")
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Length") == str(1 << 20)
        assert r.read() == b""
        conn.request("GET", "/missing")
        r = conn.getresponse()
        assert r.status == 404
        r.read()
        conn.request("POST", "/big.bin", body=b"x" * 100000)  # a static file: 405
        r = conn.getresponse()
        r.read()
        assert r.status == 405
        conn.close()
        s = p.stats()
        assert s["upstream_connects"] <= 2 and s["upstream_reuses"] >= 7
        assert s["statuses"] == {"200": 7, "404": 1, "405": 1}
    log = (nginx_origin.tmp / "nginx-access.log").read_text()
    assert log.count('"GET /text HTTP/1.1" 200') == 5


def test_httpproxy_as_the_upstream_of_nginx(tmp_path: Path, origin: netlab.HttpServer) -> None:
    with netlab.HttpProxy(0, upstreams=f"127.0.0.1:{origin.port}") as p:
        front = Nginx(tmp_path, """
    client_max_body_size 64m;
    location / {
      proxy_pass http://netlab;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_buffering off;
    }
""", upstream_block=f"upstream netlab {{ server 127.0.0.1:{p.port}; keepalive 8; }}")
        try:
            base = f"http://127.0.0.1:{front.port}"
            doc = json.loads(subprocess.run(["curl", "-sS", base + "/get?via=nginx"],
                                            capture_output=True, timeout=30, check=True).stdout)
            assert doc["args"] == {"via": "nginx"}
            assert doc["headers"]["Via"] == "1.1 netlab"
            assert doc["headers"]["X-Forwarded-For"] == "127.0.0.1"
            body = bytes(range(256)) * 40000  # 10 MB, chunked by curl
            r = subprocess.run(["curl", "-sS", "-H", "Transfer-Encoding: chunked",
                                "--data-binary", "@-", base + "/post"], input=body,
                               capture_output=True, timeout=60, check=True)
            assert json.loads(r.stdout)["body_sha256"] == hashlib.sha256(body).hexdigest()
            big = subprocess.run(["curl", "-sS", base + "/bytes/3000000"], capture_output=True,
                                 timeout=60, check=True).stdout
            assert big == pattern(3000000)
            lines = subprocess.run(["curl", "-sS", base + "/stream/20"], capture_output=True,
                                   timeout=30, check=True).stdout.splitlines()
            assert [json.loads(x)["id"] for x in lines] == list(range(20))
            for _ in range(20):
                subprocess.run(["curl", "-sS", "-o", "/dev/null", base + "/get"], timeout=30,
                               check=True)
            # nginx kept its connections to the proxy alive across curl's separate runs.
            assert p.stats()["connections_total"] <= 8
            assert p.stats()["upstream_failures"] == 0
        finally:
            front.stop()
