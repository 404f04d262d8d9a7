"""Classic servers nobody on the project wrote, as the tutorials netlab compares against write
them: a select() echo server capped at N clients, an iterative echo server, a select()
broadcast chat server and a server that reads but never answers. Each runs on a thread,
listens on a free loopback port and stops when its `with` block ends.
"""

from __future__ import annotations

import select
import socket
import threading
from typing import Optional


class _Classic:
    """Listening socket, a serving thread, and a stop flag checked every 50 ms."""

    def __init__(self, backlog: int = 128) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port: int = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "_Classic":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for c in self.clients:
            c.close()
        self.sock.close()


class CappedSelectEchoServer(_Classic):
    """The tutorial's select() echo server with MAX_CLIENTS: once `cap` clients are in, it
    stops accepting, so later connections sit in the kernel's backlog, connected and never
    served."""

    def __init__(self, cap: int = 10) -> None:
        super().__init__()
        self.cap = cap

    def _run(self) -> None:
        while not self.stopping.is_set():
            watched = list(self.clients)
            if len(self.clients) < self.cap:
                watched.append(self.sock)
            ready, _, _ = select.select(watched, [], [], 0.05)
            for s in ready:
                if s is self.sock:
                    self.clients.append(self.sock.accept()[0])
                    continue
                try:
                    data = s.recv(4096)
                    if data:
                        s.sendall(data)
                except OSError:  # a client that resets is gone, as a closed one is
                    data = b""
                if not data:
                    self.clients.remove(s)
                    s.close()


class IterativeEchoServer(_Classic):
    """One client at a time: accept, echo until it closes, then accept the next."""

    def _run(self) -> None:
        self.sock.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.clients.append(conn)
            conn.settimeout(0.05)
            while not self.stopping.is_set():
                try:
                    data = conn.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                try:
                    conn.sendall(data)
                except OSError:
                    break
            conn.close()


class SelectChatServer(_Classic):
    """The tutorial's select() chat server: every line a client sends goes to every other
    client as "[client FD] line". No welcome, no nicknames, no commands."""

    def _run(self) -> None:
        partial: dict[socket.socket, bytes] = {}
        while not self.stopping.is_set():
            ready, _, _ = select.select([self.sock, *self.clients], [], [], 0.05)
            for s in ready:
                if s is self.sock:
                    conn = self.sock.accept()[0]
                    self.clients.append(conn)
                    partial[conn] = b""
                    continue
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.clients.remove(s)
                    partial.pop(s, None)
                    s.close()
                    continue
                *lines, partial[s] = (partial[s] + data).split(b"\n")
                for line in lines:
                    self._broadcast(s, b"[client %d] %s\n" % (s.fileno(), line))

    def _broadcast(self, sender: socket.socket, message: bytes) -> None:
        for c in self.clients:
            if c is not sender:
                try:
                    c.sendall(message)
                except OSError:
                    pass


class SilentServer(_Classic):
    """Accepts and reads everything, answers nothing."""

    def _run(self) -> None:
        while not self.stopping.is_set():
            ready, _, _ = select.select([self.sock, *self.clients], [], [], 0.05)
            for s in ready:
                if s is self.sock:
                    self.clients.append(self.sock.accept()[0])
                    continue
                data: Optional[bytes]
                try:
                    data = s.recv(65536)
                except OSError:
                    data = None
                if not data:
                    self.clients.remove(s)
                    s.close()
