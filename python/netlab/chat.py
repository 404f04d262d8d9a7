"""ChatClient: a line client for netlab's ChatServer (or any line-based chat server).

    with ChatClient("127.0.0.1", 12345, nick="alice") as alice:
        alice.send("hello")
        print(alice.recv(timeout=5))      # e.g. "* bob joined lobby"

The socket is read by a native thread into a bounded queue of lines; ``recv`` waits with the
GIL released.
"""

from __future__ import annotations

from types import TracebackType
from typing import Iterator, Optional

from netlab import _core


class ChatClient:
    """A connected chat client.

    Args:
        host, port: the server.
        nick: a nickname to take at once (``ValueError`` if it is taken or invalid).
        timeout: seconds for connecting and for the nickname handshake.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 12345, nick: Optional[str] = None,
                 *, timeout: float = 10.0, max_line: int = 65536) -> None:
        self._native = _core.LineClient(host, port, timeout, max_line)
        self._held: list[str] = []
        self.nick: Optional[str] = None
        welcome = self._next(timeout)
        if welcome is not None and welcome.startswith("* welcome "):
            self.nick = welcome[len("* welcome "):].split(",", 1)[0]
        elif welcome is not None:
            self._held.append(welcome)  # not a netlab server: keep whatever it said
        if nick is not None:
            self._take_nick(nick, timeout)

    def _next(self, timeout: float) -> Optional[str]:
        line = self._native.recv(timeout)
        return None if line is None else line.decode("utf-8", "replace")

    def _take_nick(self, nick: str, timeout: float) -> None:
        self.send(f"/nick {nick}")
        while True:
            line = self._next(timeout)
            if line is None:
                raise ConnectionError("the server closed the connection")
            if line == f"* you are now {nick}":
                self.nick = nick
                return
            if line.startswith("error: "):
                raise ValueError(line[len("error: "):])
            self._held.append(line)  # a room message that arrived meanwhile

    def send(self, text: str) -> None:
        """Sends one line (a message, or a command such as ``/join dev``)."""
        if "\n" in text:
            raise ValueError("a chat line must not contain a newline")
        self._native.send(text)

    def recv(self, timeout: Optional[float] = None) -> str:
        """The next line from the server, without its newline.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
            ConnectionError: the server closed the connection.
        """
        if self._held:
            return self._held.pop(0)
        line = self._next(-1.0 if timeout is None else timeout)
        if line is None:
            reason = self._native.close_reason()
            raise ConnectionError("the server closed the connection" + (f": {reason}" if reason else ""))
        return line

    def __iter__(self) -> Iterator[str]:
        """Lines until the server closes the connection."""
        while True:
            try:
                yield self.recv()
            except ConnectionError:
                return

    def close(self) -> None:
        self._native.close()

    def __enter__(self) -> "ChatClient":
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()
