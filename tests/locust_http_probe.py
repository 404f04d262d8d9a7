"""Run as a child process by test_locust_http.py (importing Locust patches the interpreter
with gevent): drives netlab.locust's HttpSession against the HttpServer at argv[1] and prints
what it saw as JSON."""

from __future__ import annotations

import json
import sys

from locust.env import Environment

from netlab.locust import FastHttpUser, HttpSession

url = sys.argv[1]
env = Environment(user_classes=[FastHttpUser])
events: list[dict[str, object]] = []
env.events.request.add_listener(lambda **kw: events.append(
    {"type": kw["request_type"], "name": kw["name"], "ms": kw["response_time"],
     "length": kw["response_length"], "error": repr(kw["exception"]) if kw["exception"] else None}))
client = HttpSession(env, url)
out: dict[str, object] = {}
r = client.get("/get", params={"a": "1 2"}, headers={"X-Probe": "yes"})
out["get"] = [r.status_code, r.ok, r.json()["args"], r.json()["headers"]["X-Probe"],
              r.headers["content-type"], r.elapsed.total_seconds() > 0]
r = client.post("/post", json={"k": [1, 2]})
out["post"] = [r.status_code, r.json()["body_size"], r.json()["headers"]["Content-Type"]]
r = client.post("/post", data={"f": "v w"})
out["form"] = r.json()["headers"]["Content-Type"]
r = client.put("/put", data=b"\x00\x01")
out["put"] = r.json()["body_size"]
r = client.head("/bytes/777")
out["head"] = [r.status_code, r.headers["Content-Length"], len(r.content)]
r = client.get("/status/503")
try:
    r.raise_for_status()
    out["raise"] = None
except Exception as exc:  # noqa: BLE001
    out["raise"] = type(exc).__name__
with client.get("/status/404", catch_response=True) as r:
    r.success()
with client.get("/get", catch_response=True) as r:
    r.failure("no good")
out["redirect"] = client.get("/status/302", allow_redirects=True).url
out["no_redirect"] = client.get("/status/302").status_code
out["text"] = client.get("/").text[:6]
dead = HttpSession(env, "http://127.0.0.1:9")
r = dead.get("/")
out["dead"] = [r.status_code, r.ok, str(r.error)[:7]]
out["events"] = events
print(json.dumps(out))
