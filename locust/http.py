"""Locust against an HTTP server, with the requests sent, parsed and timed by netlab's C++
client. The locustfile is an ordinary FastHttpUser one: only the import differs.

    python -m netlab serve http --port 8080 &
    locust -f locust/http.py --headless -u 50 -r 25 -t 30s --host http://127.0.0.1:8080

The tasks speak HttpServer's httpbin-like routes (httpbin itself works too). With
NETLAB_HTTP_CLIENT=locust the same file runs on Locust's own FastHttpUser, for an A/B of
the two clients (benchmarks/locust_http_compare.py); NETLAB_WAIT sets each user's pause
between tasks in seconds (default 0.1; 0 for as fast as the clients go).
"""

from __future__ import annotations

import json
import os

from locust import constant, task

if os.environ.get("NETLAB_HTTP_CLIENT", "netlab") == "locust":
    from locust import FastHttpUser
else:
    from netlab.locust import FastHttpUser

ITEM = {"item": 42, "tags": ["a", "b"]}


class HttpbinUser(FastHttpUser):
    wait_time = constant(float(os.environ.get("NETLAB_WAIT", "0.1")))

    @task(4)
    def get(self) -> None:
        self.client.get("/get", params={"page": 1}, name="/get")

    @task(2)
    def post_json(self) -> None:
        # httpbin-style echo: the server reports the size of what it received.
        with self.client.post("/post", json=ITEM, catch_response=True) as response:
            size = len(json.dumps(ITEM))
            if response.status_code != 200 or response.json().get("body_size") != size:
                response.failure(f"expected body_size {size}, got {response.text[:80]!r}")

    @task(1)
    def download(self) -> None:
        self.client.get("/bytes/4096", name="/bytes/4096")

    @task(1)
    def expected_404(self) -> None:
        # A status a test expects is a success: catch_response decides.
        with self.client.get("/status/404", catch_response=True) as response:
            if response.status_code == 404:
                response.success()
            else:
                response.failure(f"expected 404, got {response.status_code}")
