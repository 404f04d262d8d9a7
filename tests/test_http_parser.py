"""netlab.http's parser as a Python user drives it: events in any split, errors with the
status a server would answer, bodies in pieces, responses to HEAD, end of stream. Its
agreement with h11 is tested case by case in test_http_differential.py."""

from __future__ import annotations

import pytest

from netlab.http import (NEED_DATA, ConnectionClosed, Data, EndOfMessage, HttpError, Request,
                         RequestParser, Response, ResponseParser)

pytestmark = pytest.mark.timeout(30)


def test_events_in_any_split_and_a_body_in_pieces() -> None:
    wire = (b"POST /up?x=1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\nDigest: x\r\n\r\n")
    p = RequestParser()
    events = []
    for byte in wire:
        p.feed(bytes([byte]))
        events += list(p.events())
    head = events[0]
    assert isinstance(head, Request) and head.method == "POST" and head.target == "/up?x=1"
    assert head.chunked and head.content_length is None and head.header("host") == "a"
    assert b"".join(e.data for e in events if isinstance(e, Data)) == b"abcdefg"
    assert events[-1] == EndOfMessage([("Digest", "x")])
    assert p.next_event() is NEED_DATA and p.buffered == 0


def test_errors_carry_the_status_and_stay() -> None:
    p = RequestParser(max_headers=2)
    p.feed(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n")
    with pytest.raises(HttpError) as caught:
        p.next_event()
    assert caught.value.status == 431 and "too many header fields" in str(caught.value)
    with pytest.raises(HttpError):
        p.next_event()
    q = RequestParser()
    q.feed(b"GET /" + b"a" * 9000)
    with pytest.raises(HttpError, match="414"):
        q.next_event()


def test_responses_to_head_and_a_body_until_close() -> None:
    p = ResponseParser()
    p.expect_response_to("HEAD")
    p.expect_response_to("GET")
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
           b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nto the end")
    p.feed_eof()
    events = list(p.events())
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Response", "EndOfMessage", "Response", "EndOfMessage", "Response", "Data",
                     "EndOfMessage", "ConnectionClosed"]
    final = events[4]
    assert isinstance(final, Response) and not final.keep_alive and final.http_version == "1.0"
    with pytest.raises(ValueError, match="after feed_eof"):
        p.feed(b"x")


def test_a_message_cut_short_is_an_error_and_a_clean_end_is_not() -> None:
    p = RequestParser()
    p.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HT")
    p.feed_eof()
    assert isinstance(p.next_event(), Request) and isinstance(p.next_event(), EndOfMessage)
    with pytest.raises(HttpError, match="closed before the message was complete"):
        p.next_event()
    q = RequestParser()
    q.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    q.feed_eof()
    assert [type(e) for e in q.events()] == [Request, EndOfMessage, ConnectionClosed]
