"""ChatClient: a line client for netlab's ChatServer or any line-based broadcast chat server.

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

_DEFAULTS = {o["name"]: o["default"] for o in _core.line_client_options()}


class ChatClient:
    """A connected chat client.

    Works with any server that relays lines: netlab's ChatServer greets with
    ``* welcome NICK, ...`` and ``nick`` is then known (and can be chosen); a plain broadcast
    server sends no greeting, so ``nick`` stays None and lines are simply sent and received.

    Args:
        host, port: the server.
        nick: a nickname to take at once (netlab's ChatServer only; ``ValueError`` if it is
            taken or invalid, or if the server is not one that has nicknames).
        timeout: seconds for connecting and for the nickname handshake.
        max_line: a longer incoming line ends the connection (bytes).
        welcome_timeout: how long to wait for netlab's greeting when no nick is asked for;
            a server that sends none is not waited on longer than this.
    """

    def __init__(self, host: str = _DEFAULTS["host"], port: int = _DEFAULTS["port"],
                 nick: Optional[str] = None, *, timeout: float = _DEFAULTS["timeout"],
                 max_line: int = _DEFAULTS["max_line"], welcome_timeout: float = 0.5) -> None:
        self._native = _core.LineClient(host=host, port=port, timeout=timeout, max_line=max_line)
        self._held: list[str] = []
        self.nick: Optional[str] = None
        try:
            first = self._next(timeout if nick is not None else min(timeout, welcome_timeout))
        except TimeoutError:
            first = None  # a server that does not greet
        if first is not None and not self._welcomed(first):
            self._held.append(first)  # not a netlab greeting: keep whatever it said
        if nick is not None:
            if self.nick is None:
                self.close()
                raise ValueError(f"cannot take nick {nick!r}: {host}:{port} sent no netlab "
                                 "welcome, so it has no nicknames (a plain broadcast server?)")
            try:
                self._take_nick(nick, timeout)
            except BaseException:
                self.close()  # a client that could not take its nick leaves at once
                raise

    def _welcomed(self, line: str) -> bool:
        """Learns the nick from netlab's greeting, whenever it arrives."""
        if self.nick is None and line.startswith("* welcome "):
            self.nick = line[len("* welcome "):].split(",", 1)[0]
            return True
        return False

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
        self._welcomed(line)  # a greeting that came after welcome_timeout
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
