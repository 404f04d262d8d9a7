"""Locust against netlab's TCP servers, with the network work done in C++.

    python -m netlab serve pingpong --port 8888 &
    locust -f locust/tcp.py --headless -u 50 -r 25 -t 30s --host tcp://127.0.0.1:8888

Pick the users with NETLAB_USERS (comma-separated class names; default PingUser):
PingUser and ConstantPingUser for the ping-pong server, EchoUser for the echo server
(NETLAB_ECHO_SIZE bytes per request), LogUser for LogServer's ingest port (LOG lines
answered OK|<id>; NETLAB_LOG_SIZE bytes of message), ChatUser for the chat server (each user messages
itself through its room; success when the message comes back), SwarmUser for C++ speed (one user drives
NETLAB_SWARM_CONNECTIONS connections of netlab's load generator; run it with -u 1 per core). With NETLAB_SERVE=pingpong|echo the locustfile
starts that netlab server itself on the --host port (epoll; NETLAB_MODEL to change).

--host takes tcp://HOST:PORT, HOST:PORT, [::1]:PORT or a bare HOST (Locust's classic form,
``--host 127.0.0.1``); a bare host's port is NETLAB_PORT, else DEFAULT_PORT (12345, the port
``python -m netlab serve`` uses by default). When the test starts, the master (or the single
local process) checks the target once with a plain TCP connect; a bad or unreachable host
ends the run at once with one line saying why, and a non-zero exit code.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, NoReturn, Optional

import gevent  # type: ignore[import-untyped]
from locust import User, events
from locust.env import Environment
from locust.runners import WorkerRunner

import netlab.locust as _users
from netlab.locust import parse_tcp_host

DEFAULT_PORT = 12345  # python -m netlab serve's default --port
CONNECT_TIMEOUT = 2.0  # seconds; a loopback or LAN server answers a connect far sooner

log = logging.getLogger("netlab.locust")

# Every concrete user netlab.locust exports, so a user added there is offered here at once.
_AVAILABLE = tuple(name for name in _users.__all__
                   if isinstance(getattr(_users, name), type)
                   and issubclass(getattr(_users, name), User)
                   and not getattr(_users, name).abstract)


def _expose_chosen_users() -> None:
    # Locust runs every User class it finds in the locustfile: expose only the chosen ones.
    for name in os.environ.get("NETLAB_USERS", "PingUser").split(","):
        name = name.strip()
        if name not in _AVAILABLE:
            raise SystemExit(f"NETLAB_USERS: unknown user {name!r}; choose from {_AVAILABLE}")
        globals()[name] = getattr(_users, name)


_expose_chosen_users()

_server = None


@events.test_start.add_listener
def _prepare_target(environment: Environment, **_kwargs: Any) -> None:
    """Resolves --host, starts NETLAB_SERVE's server, then checks the target answers.

    Only the master or the local runner does this: workers get the resolved host from the
    master, and one check is enough.
    """
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        host, port = parse_tcp_host(environment.host, DEFAULT_PORT)
        _start_server(host, port)
    except (OSError, ValueError) as exc:
        _give_up(environment, str(exc))
    problem = _unreachable(host, port)
    if problem:
        _give_up(environment, f"cannot reach {_host_port(host, port)} ({problem}); "
                              "start a server or fix --host")
    # Users (and workers, which take the host from the master) see the port resolved here.
    environment.host = f"tcp://{_host_port(host, port)}"


def _start_server(host: str, port: int) -> None:
    """With NETLAB_SERVE=<app> (any of netlab.SERVERS but relay, which needs a target),
    starts that server on the target, once."""
    global _server
    app = os.environ.get("NETLAB_SERVE")
    if not app or _server is not None:
        return
    import netlab

    classes = {name: cls for name, cls in netlab.SERVERS.items() if name != "relay"}
    if app not in classes:
        raise ValueError(f"NETLAB_SERVE: unknown server {app!r}; choose from {sorted(classes)}")
    _server = classes[app](port, host, model=os.environ.get("NETLAB_MODEL", "epoll")).start()


def _unreachable(host: str, port: int) -> Optional[str]:
    """None when a TCP connect to the target succeeds, else why it failed, in a few words."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except socket.timeout:
        return f"no answer in {CONNECT_TIMEOUT:g} s"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    return None


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _give_up(environment: Environment, message: str) -> NoReturn:
    """One line saying why; then a headless Locust quits with exit code 1, a web UI stops."""
    log.error("netlab: %s", message)
    runner = environment.runner
    assert runner is not None
    options = environment.parsed_options
    if options is not None and options.headless:
        environment.process_exit_code = 1
        gevent.spawn(runner.quit)
    else:  # the web UI stays up, so the host can be fixed in its form
        gevent.spawn(runner.stop)
    # Ending the greenlet that fired test_start keeps Locust from spawning users (or sending
    # spawn jobs to workers) for a host known to be bad; Runner.stop() ends it the same way.
    raise gevent.GreenletExit


@events.quitting.add_listener
def _stop_server(environment: Environment, **_kwargs: Any) -> None:
    if _server is not None:
        _server.stop()
