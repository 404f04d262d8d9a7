"""Locust against netlab's TCP servers, with the network work done in C++.

    python -m netlab serve pingpong --port 8888 &
    locust -f locust/tcp.py --headless -u 50 -r 25 -t 30s --host tcp://127.0.0.1:8888

Pick the users with NETLAB_USERS (comma-separated class names; default PingUser):
PingUser and ConstantPingUser for the ping-pong server, EchoUser for the echo server
(NETLAB_ECHO_SIZE bytes per request), ChatUser for the chat server (each user messages
itself through its room; success when the message comes back), SwarmUser for C++ speed (one user drives
NETLAB_SWARM_CONNECTIONS connections of netlab's load generator; run it with -u 1 per core). With NETLAB_SERVE=pingpong|echo the locustfile
starts that netlab server itself on the --host port (epoll; NETLAB_MODEL to change).
"""

from __future__ import annotations

import os

from locust import events

import netlab.locust as _users
from netlab.locust import parse_tcp_host

_AVAILABLE = ("PingUser", "ConstantPingUser", "EchoUser", "ChatUser", "SwarmUser")


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
def _start_server(environment, **_kwargs) -> None:
    global _server
    app = os.environ.get("NETLAB_SERVE")
    if not app or _server is not None or environment.host is None:
        return
    import netlab

    host, port = parse_tcp_host(environment.host)
    cls = {"pingpong": netlab.PingPongServer, "echo": netlab.EchoServer,
           "chat": netlab.ChatServer}[app]
    _server = cls(port, host, model=os.environ.get("NETLAB_MODEL", "epoll")).start()


@events.quitting.add_listener
def _stop_server(environment, **_kwargs) -> None:
    if _server is not None:
        _server.stop()
