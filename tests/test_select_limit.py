"""select() cannot watch descriptors past FD_SETSIZE: netlab caps the select model below it
and refuses the clients past the cap cleanly."""

from __future__ import annotations

import socket

import netlab
from conftest import CliServer, connect, recv_exact, recv_until_closed

FD_SETSIZE = 1024
CLIENTS = FD_SETSIZE + 100
SELECT_CAP = netlab.servers.DEFAULTS["select_max_connections"]


def test_select_refuses_past_its_cap_and_keeps_serving() -> None:
    assert SELECT_CAP < FD_SETSIZE
    with CliServer("echo", "--model", "select") as server:
        clients = [connect(server.port) for _ in range(CLIENTS)]
        served, refused = 0, 0
        for c in clients:
            c.sendall(b"x")
        for c in clients:
            first = recv_exact(c, 1)
            if first == b"x":
                served += 1
            else:
                assert first + recv_until_closed(c) == b"error: server full\n"
                refused += 1
        assert served == SELECT_CAP
        assert refused == CLIENTS - SELECT_CAP
        for c in clients:
            c.close()
        with connect(server.port) as again:
            again.sendall(b"after")
            assert recv_exact(again, 5) == b"after"
        code, _ = server.stop()
        assert code == 0


def test_epoll_serves_past_fd_setsize() -> None:
    with CliServer("echo", "--model", "epoll") as server:
        clients = [connect(server.port) for _ in range(CLIENTS)]
        for c in clients:
            c.sendall(b"y")
        assert all(recv_exact(c, 1) == b"y" for c in clients)
        for c in clients:
            c.close()
        server.stop()
