"""select() cannot watch descriptors past FD_SETSIZE: netlab refuses those clients cleanly."""

from __future__ import annotations

import socket

from conftest import CliServer, connect, recv_exact, recv_until_closed

FD_SETSIZE = 1024
CLIENTS = FD_SETSIZE + 100


def test_select_refuses_past_fd_setsize_and_keeps_serving() -> None:
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
                message = first + recv_until_closed(c)
                assert message.startswith(b"error: server full: select() cannot watch fd"), message
                assert message.endswith(b"(FD_SETSIZE is 1024)\n")
                refused += 1
        assert served + refused == CLIENTS
        assert refused >= CLIENTS - FD_SETSIZE
        assert served >= FD_SETSIZE - 16  # all but the few fds the process itself holds
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
