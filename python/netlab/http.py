"""HTTP/1.1 parsing (RFC 9112) with netlab's C++ parser, for testing your own servers and
clients: feed it bytes in any split and read events, as with h11.

    from netlab.http import RequestParser, Request, Data, EndOfMessage, NEED_DATA

    parser = RequestParser()
    parser.feed(b"POST /x HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
    for event in parser.events():
        print(event)   # Request(...), Data(data=b'hi'), EndOfMessage(trailers=[])

The parser is strict where request smuggling lives (Content-Length with Transfer-Encoding,
differing Content-Length values, bad chunk sizes, obs-fold, whitespace before a colon, bare
CR): those raise :class:`HttpError` with the status a server would answer (400; 414, 431
past the limits; 501, 505). Bodies arrive as :class:`Data` pieces, never held whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Union

from netlab import _core

Headers = list[tuple[str, str]]
"""Header fields in order, names as received; bytes outside ASCII decoded as latin-1."""


class HttpError(ValueError):
    """The bytes are not a valid HTTP/1.1 message. ``status`` is what a server answers
    (400 malformed, 414 request line too long, 431 header fields too large, 501 a transfer
    coding it does not decode, 505 an HTTP major version other than 1; a response parser
    reports 502)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


def _find(headers: Headers, name: str) -> Optional[str]:
    lowered = name.lower()
    return next((v for n, v in headers if n.lower() == lowered), None)


@dataclass(frozen=True)
class Request:
    """A request head. ``content_length`` is None without the header; ``chunked`` says the
    body comes chunked; ``keep_alive`` whether another request may follow on the
    connection."""

    method: str
    target: str
    http_version: str
    headers: Headers
    keep_alive: bool
    expect_continue: bool
    content_length: Optional[int]
    chunked: bool

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (any case), or None."""
        return _find(self.headers, name)


@dataclass(frozen=True)
class Response:
    """A response head; a 1xx response is followed by :class:`EndOfMessage` and then the
    real response."""

    status: int
    reason: str
    http_version: str
    headers: Headers
    keep_alive: bool
    content_length: Optional[int]
    chunked: bool

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (any case), or None."""
        return _find(self.headers, name)


@dataclass(frozen=True)
class Data:
    """The next piece of the body."""

    data: bytes


@dataclass(frozen=True)
class EndOfMessage:
    """The message is complete; ``trailers`` are a chunked body's trailer fields."""

    trailers: Headers = field(default_factory=list)


@dataclass(frozen=True)
class ConnectionClosed:
    """No more messages: the peer closed between messages, or the last one ended the
    connection (``Connection: close``, HTTP/1.0, a body delimited by close)."""


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()
"""Returned by ``next_event()`` when nothing complete has arrived: feed more bytes."""

Event = Union[Request, Response, Data, EndOfMessage, ConnectionClosed]


class _Parser:
    _request: bool = True

    def __init__(self, *, max_headers: int = 100, max_line: int = 8192,
                 max_head: int = 65536) -> None:
        self._native = _core.HttpParser(self._request, max_headers, max_line, max_head)

    def feed(self, data: bytes) -> None:
        """Adds received bytes; any split is fine."""
        self._native.feed(data)

    def feed_eof(self) -> None:
        """The peer closed its side: a body delimited by close ends; a message cut short
        raises HttpError on the next call."""
        self._native.feed_eof()

    def next_event(self) -> Union[Event, _NeedData]:
        """The next event, or NEED_DATA.

        Raises:
            HttpError: the input is not valid HTTP/1.1 (and every later call raises too).
        """
        kind, value = self._native.next_event()
        if kind == "head":
            return Request(**value) if self._request else Response(**_response(value))
        if kind == "data":
            return Data(value)
        if kind == "end":
            return EndOfMessage([tuple(t) for t in value])
        if kind == "closed":
            return ConnectionClosed()
        if kind == "error":
            raise HttpError(*value)
        return NEED_DATA

    def events(self) -> Iterator[Event]:
        """Every event available now; stops at NEED_DATA or after ConnectionClosed."""
        while True:
            event = self.next_event()
            if isinstance(event, _NeedData):
                return
            yield event
            if isinstance(event, ConnectionClosed):
                return

    @property
    def buffered(self) -> int:
        """Bytes fed and not yet consumed by an event."""
        return int(self._native.buffered)


def _response(head: dict[str, Any]) -> dict[str, Any]:
    head.pop("expect_continue", None)
    return head


class RequestParser(_Parser):
    """Parses the requests a client sends: :class:`Request`, then :class:`Data` pieces, then
    :class:`EndOfMessage`, for each pipelined request in turn. Limits: ``max_headers``
    fields (431 past it), ``max_line`` bytes per line (414 for the request line, 431 for a
    field), ``max_head`` bytes of head (431)."""

    _request = True


class ResponseParser(_Parser):
    """Parses the responses a server sends. Call :meth:`expect_response_to` with each
    request's method as you send it, so that a response to HEAD is read without a body."""

    _request = False

    def expect_response_to(self, method: str) -> None:
        """Queues the method of a request sent on this connection (in order)."""
        self._native.expect_response_to(method)


__all__ = ["ConnectionClosed", "Data", "EndOfMessage", "Event", "Headers", "HttpError",
           "NEED_DATA", "Request", "RequestParser", "Response", "ResponseParser"]
