"""netlab's Locust HTTP user: its FastHttpUser-compatible client (in a child process, since
importing Locust patches the interpreter with gevent), and real headless Locust runs of
locust/http.py against HttpServer, with netlab's client and with Locust's own."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import netlab

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(120)


def test_the_client_api_as_locustfiles_use_it() -> None:
    with netlab.HttpServer(0) as server:
        run = subprocess.run([sys.executable, str(ROOT / "tests" / "locust_http_probe.py"),
                              server.url], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["get"] == [200, True, {"a": "1 2"}, "yes", "application/json", True]
    assert out["post"] == [200, len('{"k": [1, 2]}'), "application/json"]
    assert out["form"] == "application/x-www-form-urlencoded"
    assert out["put"] == 2
    assert out["head"] == [200, "777", 0]
    assert out["raise"] == "HttpError"
    assert out["redirect"].endswith("/get") and out["no_redirect"] == 302
    assert out["text"] == "netlab"
    assert out["dead"][:2] == [0, False] and out["dead"][2] == "refused"
    by_name = {(e["type"], e["name"]): e for e in out["events"]}
    assert by_name[("GET", "/get")]["error"] is not None  # the failure() one came last
    assert by_name[("GET", "/status/404")]["error"] is None  # success() overrides the 404
    assert by_name[("GET", "/status/503")]["error"] is not None
    assert all(e["ms"] >= 0 for e in out["events"])


def stats(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("client", ["netlab", "locust"])
def test_locustfile_runs_headless_with_either_client(tmp_path: Path, client: str) -> None:
    with netlab.HttpServer(0) as server:
        env = dict(os.environ, NETLAB_HTTP_CLIENT=client, NETLAB_WAIT="0.05")
        run = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "locust" / "http.py"),
             "--headless", "-u", "20", "-r", "20", "-t", "4s", "--host", server.url,
             "--csv", str(tmp_path / "run")],
            capture_output=True, text=True, timeout=90, env=env)
        served = server.stats()
    assert run.returncode == 0, run.stderr[-3000:]
    rows = stats(tmp_path / "run")
    for name in ("/get", "/post", "/bytes/4096", "/status/404"):
        assert int(rows[name]["Request Count"]) > 5, (name, rows[name])
        assert int(rows[name]["Failure Count"]) == 0, (name, rows[name])
    total = int(rows["Aggregated"]["Request Count"])
    assert served["requests"]["GET"] + served["requests"]["POST"] >= total
    if client == "netlab":  # one keep-alive connection per user
        assert served["connections_total"] == 20
