"""netlab.http against h11: the same bytes must give the same messages, or be rejected by both.

Each corpus case (tests/http_corpus.py) is parsed by h11 (fed whole) and by netlab (fed
whole, and one byte at a time); both results are reduced to a Result: the complete
messages (start line, lower-cased header names with values, joined body, trailers,
keep-alive, 100-continue) and how the byte stream ended. Disagreements are failures
unless listed in KNOWN_DIFFERENCES, and a listed one fails when it stops differing in
the listed way, so the table stays true.
"""

from __future__ import annotations

import contextlib
import reprlib
from functools import lru_cache
from typing import Any, Iterable, List, NamedTuple, Optional, Tuple

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.http import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    EndOfMessage,
    HttpError,
    Request,
    RequestParser,
    Response,
    ResponseParser,
)

from http_corpus import REQUESTS, RESPONSE_METHODS, RESPONSES

pytestmark = pytest.mark.timeout(60)

Fields = Tuple[Tuple[str, str], ...]

# Each value starts with the kind of difference (see difference()), then says who is right.
KNOWN_DIFFERENCES: dict[str, str] = {
    "leading_empty_lines":
        "h11 rejects: netlab is right. RFC 9112 §2.2: a server expecting a request-line SHOULD "
        "ignore at least one empty line (CRLF) received before it; h11 raises 'no request line "
        "received'.",
    "http10_keep_alive":
        "keep_alive differs: both allowed. RFC 9112 §9.3 lets a recipient honour the HTTP/1.0 "
        "'keep-alive' connection option; netlab does, h11 treats every HTTP/1.0 message as "
        "closing the connection.",
    "response_http10_keep_alive":
        "keep_alive differs: both allowed, as for http10_keep_alive (RFC 9112 §9.3); h11 never "
        "keeps an HTTP/1.0 connection.",
    "te_chunked_http10":
        "netlab rejects: netlab follows RFC 9112 §6.1: a recipient of an HTTP/1.0 message with "
        "Transfer-Encoding MUST treat its framing as faulty (an HTTP/1.0 intermediary would not "
        "have understood chunked, so the two ends may disagree on where the body ends); nginx "
        "answers 400 too. h11 decodes it as chunked.",
    "cl_and_te":
        "netlab rejects: netlab is the safer choice. RFC 9112 §6.1 lets a server reject a request "
        "with both Content-Length and Transfer-Encoding or frame it by Transfer-Encoding alone, "
        "but then it MUST close the connection after responding; h11 frames it as chunked and "
        "keeps the connection, so the smuggled request after the body is served.",
    "te_and_cl":
        "netlab rejects: as cl_and_te (RFC 9112 §6.1, §11.2 request smuggling).",
    "response_cl_and_te":
        "netlab rejects: RFC 9112 §6.3 rule 3 says Transfer-Encoding overrides Content-Length but "
        "such a message 'ought to be handled as an error'; h11 uses the chunked framing.",
    "response_te_gzip_chunked":
        "h11 rejects: netlab is right on framing. RFC 9112 §6.3 rule 4: chunked as the final "
        "coding determines the length; decoding the gzip under it is the application's. h11 "
        "supports no coding but chunked ('Only Transfer-Encoding: chunked is supported').",
    "response_te_gzip":
        "h11 rejects: netlab is right. RFC 9112 §6.3 rule 4: in a response whose final transfer "
        "coding is not chunked, the body length is determined by reading until the server "
        "closes the connection; h11 rejects any coding but chunked.",
    "response_close_delimited":
        "keep_alive differs: netlab is right. RFC 9112 §6.3 rule 8: a response without "
        "Content-Length or chunked ends only when the server closes, so no response can follow "
        "on the connection; h11 still reports the server as DONE (keep-alive) at EndOfMessage.",
    "http_1_2_version":
        "messages differ: both allowed. RFC 9110 §2.5: a recipient SHOULD process a higher "
        "minor version as the highest it conforms to; netlab reports that ('1.1'), h11 the "
        "version as received ('1.2').",
    "chunk_size_trailing_space":
        "netlab rejects: netlab follows the grammar. RFC 9112 §7.1: chunk-size [ chunk-ext ] "
        "CRLF has no whitespace before CRLF; h11 deliberately allows trailing OWS there.",
    "chunk_ext_bws":
        "h11 rejects: netlab is right. RFC 9112 §7.1.1: chunk-ext = *( BWS ';' BWS "
        "chunk-ext-name [ BWS '=' BWS chunk-ext-val ] ), so '5 ; a = b' is valid; h11's chunk "
        "header regex allows no whitespace before ';'.",
    "obs_fold":
        "netlab rejects: both allowed. RFC 9112 §5.2: a server receiving obs-fold in a request "
        "MUST either reject it (400) or replace each obs-fold with SP; h11 unfolds.",
    "obs_fold_tab":
        "netlab rejects: as obs_fold (RFC 9112 §5.2).",
    "response_obs_fold":
        "netlab rejects: h11 is right for a user agent. RFC 9112 §5.2: a user agent receiving "
        "obs-fold in a response MUST replace each obs-fold with SP; only a proxy or gateway may "
        "discard the message (and answer 502).",
    "ctl_in_value":
        "netlab rejects: both allowed. RFC 9110 §5.5: control characters other than HTAB are "
        "invalid in a field value, but a recipient MAY retain them; h11 keeps every byte but "
        "NUL and whitespace other than SP/HTAB (its issue #57: cookies with \\x01).",
    "del_in_value":
        "netlab rejects: both allowed, as ctl_in_value (DEL is a CTL, RFC 5234 B.1).",
    "chunk_size_overflow":
        "netlab rejects: netlab is right. 2**64 does not fit any length a recipient can track "
        "(RFC 9112 §7.1: recipients MUST anticipate large sizes and prevent overflow); h11 "
        "accepts up to 20 hex digits and waits for 2**64 bytes.",
    "content_length_overflow":
        "netlab rejects: netlab is right. RFC 9110 §8.6: a recipient MUST anticipate large "
        "decimal lengths and prevent integer overflow; h11 accepts up to 20 digits and waits "
        "for the body.",
    "chunk_size_many_leading_zeros":
        "h11 rejects: netlab is right. RFC 9112 §7.1: chunk-size = 1*HEXDIG, so leading zeros "
        "are valid and the value is 5; h11 refuses more than 20 digits whatever their value.",
    "content_length_many_leading_zeros":
        "h11 rejects: netlab is right. RFC 9110 §8.6: Content-Length = 1*DIGIT, the value is 5; "
        "h11 refuses more than 20 digits ('bad Content-Length').",
    "http_2_0":
        "netlab rejects: netlab is right. RFC 9110 §6.2 and §15.6.6: a server answers 505 to a "
        "major version it does not support; h11 accepts any DIGIT.DIGIT.",
    "http_0_9_version":
        "netlab rejects: netlab answers 505 for major version 0 (RFC 9110 §15.6.6); h11 takes "
        "'HTTP/0.9' as an HTTP/1.0-like request.",
    "response_http_2_0":
        "netlab rejects: netlab is right; an HTTP/1.1 client cannot read an HTTP/2 response as "
        "HTTP/1.x (RFC 9110 §6.2); h11 accepts any DIGIT.DIGIT.",
    "headers_over_limit":
        "netlab rejects: both allowed. RFC 9110 §5.4: a server receiving more fields than it "
        "wishes to process MUST answer 4xx (431, RFC 6585 §5); h11 has no field count limit.",
    "header_line_9k":
        "netlab rejects: both allowed. RFC 9110 §5.4: a server may refuse a field line longer "
        "than it wishes to process (431); h11 only limits an incomplete head (16 KiB by "
        "default) and was fed whole.",
    "target_9k":
        "netlab rejects: both allowed. RFC 9112 §3: a server receiving a request-target longer "
        "than it wishes to parse MUST answer 414; h11 has no request-line limit.",
    "head_over_64k":
        "netlab rejects: both allowed (RFC 9110 §5.4; 431, RFC 6585 §5); h11's "
        "max_incomplete_event_size applies only while a head is incomplete, and it was fed whole.",
}

# netlab's HttpError.status where it is not the default: 400 for a request, 502 for a
# response (what a gateway would answer for a bad upstream response).
EXPECTED_STATUS: dict[str, int] = {
    "http_2_0": 505,
    "http_0_9_version": 505,
    "te_gzip_then_chunked": 501,
    "te_gzip_field_then_chunked_field": 501,
    "headers_over_limit": 431,
    "header_line_9k": 431,
    "head_over_64k": 431,
    "target_9k": 414,
}


class Message(NamedTuple):
    kind: str  # "request", "response" or "informational" (a 1xx response)
    start: Tuple[Any, ...]  # (method, target, version) or (status, reason, version)
    headers: Fields
    body: bytes
    trailers: Fields
    keep_alive: Optional[bool]
    expect_continue: Optional[bool]


class Result(NamedTuple):
    messages: Tuple[Message, ...]
    end: str  # "ok": closed between messages; "truncated": closed inside one; "rejected"


def canonical_fields(fields: Iterable[Tuple[str, str]]) -> Fields:
    """Lower-cases names, and puts framing fields in the one form h11 reports them in.

    h11 folds identical Content-Length fields (and "5, 5") into one and lower-cases
    Transfer-Encoding; netlab keeps fields as received. Both are faithful, so only the
    representation is made equal here; conflicting values are left alone to show up.
    """
    fields = [(name.lower(), value) for name, value in fields]
    lengths = {part.strip() for name, value in fields if name == "content-length"
               for part in value.split(",")}
    out: List[Tuple[str, str]] = []
    for name, value in fields:
        if name == "content-length" and len(lengths) == 1:
            if ("content-length", next(iter(lengths))) in out:
                continue
            value = next(iter(lengths))
        elif name == "transfer-encoding":
            value = value.lower()
        out.append((name, value))
    return tuple(out)


class Collector:
    """Assembles events from either parser into Messages."""

    def __init__(self) -> None:
        self.messages: List[Message] = []
        self.current: Optional[Message] = None
        self.body: List[bytes] = []
        self.stopped = False  # a message closed the connection: later bytes are not read

    def start(self, message: Message) -> None:
        assert self.current is None, f"a new message began inside {self.current}"
        self.current, self.body = message, []

    def data(self, data: bytes) -> None:
        assert self.current is not None, "body data outside a message"
        self.body.append(bytes(data))

    def end(self, trailers: Fields, keep_alive: Optional[bool] = None) -> None:
        """keep_alive: known only now (h11), or None to keep what the head said (netlab)."""
        assert self.current is not None, "end of a message that never began"
        if self.current.kind == "informational":
            keep_alive = None  # a 1xx response says nothing about the connection
        elif keep_alive is None:
            keep_alive = self.current.keep_alive
        done = self.current._replace(body=b"".join(self.body), trailers=trailers,
                                     keep_alive=keep_alive)
        self.messages.append(done)
        self.current = None
        self.stopped = done.keep_alive is False

    def result(self, end: str) -> Result:
        if end == "ok" and self.current is not None:
            end = "truncated"
        return Result(tuple(self.messages), end)


# --- netlab -------------------------------------------------------------------------


def netlab_message(event: Any) -> Message:
    headers = canonical_fields(event.headers)
    if isinstance(event, Request):
        return Message("request", (event.method, event.target, event.http_version), headers,
                       b"", (), event.keep_alive, event.expect_continue)
    kind = "informational" if event.status < 200 else "response"
    return Message(kind, (event.status, event.reason, event.http_version), headers,
                   b"", (), event.keep_alive, None)


def netlab_drain(parser: Any, out: Collector) -> None:
    # A runaway parser must fail the test, not hang it.
    for _ in range(1_000_000):
        if out.stopped:
            return
        event = parser.next_event()
        if event is NEED_DATA or isinstance(event, ConnectionClosed):
            return
        if isinstance(event, (Request, Response)):
            out.start(netlab_message(event))
        elif isinstance(event, Data):
            out.data(event.data)
        elif isinstance(event, EndOfMessage):
            out.end(canonical_fields(event.trailers))
        else:
            raise AssertionError(f"unexpected netlab event {event!r}")
    raise AssertionError("netlab produced events without end")


def netlab_run(parser: Any, pieces: Iterable[bytes]) -> Tuple[Result, Optional[HttpError]]:
    out = Collector()
    try:
        for piece in pieces:
            if out.stopped:
                return out.result("ok"), None
            parser.feed(piece)
            netlab_drain(parser, out)
    except HttpError as error:
        return out.result("rejected"), error
    if out.stopped:
        return out.result("ok"), None
    try:
        parser.feed_eof()
        netlab_drain(parser, out)
    except HttpError as error:
        return out.result("truncated"), error
    return out.result("ok"), None


def response_parser(methods: List[str]) -> Any:
    parser = ResponseParser()
    for method in methods:
        parser.expect_response_to(method)
    return parser


def bytewise(raw: bytes) -> List[bytes]:
    return [raw[i:i + 1] for i in range(len(raw))]


# --- h11 ----------------------------------------------------------------------------


def latin1(b: bytes) -> str:
    return bytes(b).decode("latin-1")


def h11_fields(headers: Iterable[Tuple[bytes, bytes]]) -> Fields:
    return canonical_fields((latin1(n), latin1(v)) for n, v in headers)


def h11_message(conn: h11.Connection, event: Any) -> Message:
    version = latin1(event.http_version)
    headers = h11_fields(event.headers)
    if isinstance(event, h11.Request):
        start = (latin1(event.method), latin1(event.target), version)
        return Message("request", start, headers, b"", (), None,
                       conn.they_are_waiting_for_100_continue)
    kind = "informational" if isinstance(event, h11.InformationalResponse) else "response"
    return Message(kind, (event.status_code, latin1(event.reason), version), headers,
                   b"", (), None, None)


def h11_next_cycle(conn: h11.Connection, pending: List[str]) -> bool:
    """Moves h11 on to the next pipelined message, as a real peer would; False if it can't.

    pending: the methods of the requests still to send (client role only).
    """
    if conn.our_role is h11.SERVER:
        if conn.their_state is not h11.DONE:
            return False  # closing, or switching protocols (CONNECT, Upgrade)
        conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
        conn.send(h11.EndOfMessage())
    if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
        return False
    if conn.our_role is h11.CLIENT and not pending:
        return False
    conn.start_next_cycle()
    if conn.our_role is h11.CLIENT:
        h11_send_request(conn, pending.pop(0))
    return True


def h11_send_request(conn: h11.Connection, method: str) -> None:
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "example.com")]))
    conn.send(h11.EndOfMessage())


def h11_drain(conn: h11.Connection, out: Collector, pending: List[str]) -> None:
    while not out.stopped:
        event = conn.next_event()
        if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            return
        if event is h11.PAUSED:
            if not h11_next_cycle(conn, pending):
                out.stopped = True
                return
        elif isinstance(event, h11.InformationalResponse):
            out.start(h11_message(conn, event))
            out.end((), None)
        elif isinstance(event, (h11.Request, h11.Response)):
            out.start(h11_message(conn, event))
        elif isinstance(event, h11.Data):
            out.data(event.data)
        elif isinstance(event, h11.EndOfMessage):
            out.end(h11_fields(event.headers), conn.their_state is not h11.MUST_CLOSE)


def h11_run(raw: bytes, methods: Optional[List[str]] = None) -> Tuple[Result, Optional[str]]:
    """Parses requests (methods None) or the responses to the given request methods."""
    pending: List[str] = []
    if methods is None:
        conn = h11.Connection(h11.SERVER)
    else:
        conn, pending = h11.Connection(h11.CLIENT), list(methods)
        h11_send_request(conn, pending.pop(0))
    out = Collector()
    try:
        conn.receive_data(raw)
        h11_drain(conn, out, pending)
    except h11.RemoteProtocolError as error:
        return out.result("rejected"), f"{error} (status hint {error.error_status_hint})"
    if out.stopped:
        return out.result("ok"), None
    try:
        conn.receive_data(b"")
        h11_drain(conn, out, pending)
    except h11.RemoteProtocolError as error:
        return out.result("truncated"), str(error)
    return out.result("ok"), None


# --- comparison ---------------------------------------------------------------------


def difference(netlab: Result, other: Result) -> str:
    """Names how two results differ, in the words KNOWN_DIFFERENCES entries start with."""
    if netlab == other:
        return "same"
    if netlab.end == "rejected" and other.end != "rejected":
        return "netlab rejects"
    if other.end == "rejected" and netlab.end != "rejected":
        return "h11 rejects"
    strip = [m._replace(keep_alive=None) for m in netlab.messages]
    if netlab.end == other.end and strip == [m._replace(keep_alive=None) for m in other.messages]:
        return "keep_alive differs"
    return "messages differ"


_clip = reprlib.Repr()
_clip.maxstring = 72
_clip.maxother = 72
_clip.maxtuple = 12
_clip.maxlist = 12


def show(result: Result, detail: Optional[str]) -> str:
    lines = [f"end={result.end}" + (f" ({detail})" if detail else "")]
    for m in result.messages:
        lines.append(f"    {m.kind} {_clip.repr(m.start)} keep_alive={m.keep_alive} "
                     f"expect_continue={m.expect_continue}")
        lines.append(f"      headers={_clip.repr(m.headers)}")
        lines.append(f"      body={_clip.repr(m.body)} trailers={_clip.repr(m.trailers)}")
    return "\n".join(lines)


def check_against_h11(name: str, raw: bytes, netlab: Tuple[Result, Optional[HttpError]],
                      h11_result: Tuple[Result, Optional[str]]) -> None:
    kind = difference(netlab[0], h11_result[0])
    error = netlab[1]
    report = (f"case {name!r}: {_clip.repr(raw)}\n"
              f"  netlab: {show(netlab[0], error and f'{error.status}: {error}')}\n"
              f"  h11:    {show(*h11_result)}")
    known = KNOWN_DIFFERENCES.get(name)
    if known is None:
        assert kind == "same", f"netlab and h11 disagree ({kind}), not a known difference\n{report}"
    else:
        expected = known.split(":")[0]
        assert kind == expected, (f"known difference no longer as described: expected "
                                  f"{expected!r}, got {kind!r}\n{report}")


# --- corpus tests -------------------------------------------------------------------

REQUEST_BYTES = dict(REQUESTS)
RESPONSE_BYTES = dict(RESPONSES)


def methods_for(name: str) -> List[str]:
    return list(RESPONSE_METHODS.get(name, ["GET"]))


@lru_cache(maxsize=None)
def netlab_case(name: str, one_byte_at_a_time: bool) -> Tuple[Result, Optional[HttpError]]:
    if name in REQUEST_BYTES:
        raw, parser = REQUEST_BYTES[name], RequestParser()
    else:
        raw, parser = RESPONSE_BYTES[name], response_parser(methods_for(name))
    return netlab_run(parser, bytewise(raw) if one_byte_at_a_time else [raw])


def h11_case(name: str) -> Tuple[Result, Optional[str]]:
    if name in REQUEST_BYTES:
        return h11_run(REQUEST_BYTES[name])
    return h11_run(RESPONSE_BYTES[name], methods_for(name))


ALL_NAMES = [name for name, _ in REQUESTS + RESPONSES]


def test_corpus_is_consistent() -> None:
    assert len(set(ALL_NAMES)) == len(ALL_NAMES), "duplicate case names"
    for table in (KNOWN_DIFFERENCES, EXPECTED_STATUS, RESPONSE_METHODS):
        assert set(table) <= set(ALL_NAMES), f"entries for no case: {set(table) - set(ALL_NAMES)}"
    kinds = {"netlab rejects", "h11 rejects", "keep_alive differs", "messages differ"}
    for name, why in KNOWN_DIFFERENCES.items():
        assert why.split(":")[0] in kinds, f"{name}: {why!r} does not start with a kind"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_split_does_not_matter(name: str) -> None:
    whole, whole_error = netlab_case(name, False)
    split, split_error = netlab_case(name, True)
    assert split == whole, f"{name}: whole {show(whole, None)}\n  bytewise {show(split, None)}"
    assert (whole_error is None) == (split_error is None)
    if whole_error is not None and split_error is not None:
        assert split_error.status == whole_error.status, f"{name}: {whole_error} / {split_error}"


def default_status(name: str) -> int:
    return 400 if name in REQUEST_BYTES else 502


@pytest.mark.parametrize("name", ALL_NAMES)
def test_rejection_status(name: str) -> None:
    result, error = netlab_case(name, False)
    expected = EXPECTED_STATUS.get(name)
    if expected is not None:
        assert error is not None and result.end == "rejected", f"{name}: {show(result, None)}"
    if error is not None and result.end == "rejected":
        assert isinstance(error, ValueError)
        assert error.status == (expected or default_status(name)), f"{name}: {error}"
        assert str(error), f"{name}: an HttpError without a reason"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_error_is_sticky(name: str) -> None:
    result, error = netlab_case(name, False)
    if error is None or result.end != "rejected":
        return
    if name in REQUEST_BYTES:
        raw, parser = REQUEST_BYTES[name], RequestParser()
    else:
        raw, parser = RESPONSE_BYTES[name], response_parser(methods_for(name))
    netlab_run(parser, [raw])
    # Neither more bytes (a valid request, even) nor the peer closing may revive it; feed()
    # and feed_eof() themselves may raise or not.
    for then in (lambda: None, lambda: parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                 parser.feed_eof, lambda: None):
        with contextlib.suppress(HttpError):
            then()
        with pytest.raises(HttpError) as raised:
            parser.next_event()
        assert raised.value.status == error.status


@pytest.mark.parametrize("name", [name for name, _ in REQUESTS])
def test_request_matches_h11(name: str) -> None:
    check_against_h11(name, REQUEST_BYTES[name], netlab_case(name, False), h11_case(name))


@pytest.mark.parametrize("name", [name for name, _ in RESPONSES])
def test_response_matches_h11(name: str) -> None:
    check_against_h11(name, RESPONSE_BYTES[name], netlab_case(name, False), h11_case(name))


# --- property: random valid requests ------------------------------------------------

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
VCHAR = "".join(chr(c) for c in range(0x21, 0x7f))
# Fields that change framing or connection handling are the corpus's business, not this test's.
RESERVED = {"host", "content-length", "transfer-encoding", "connection", "expect", "upgrade",
            "te", "trailer", "keep-alive"}

tokens = st.text(TCHAR, min_size=1, max_size=12)
methods = st.one_of(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]), tokens)
targets = st.text(TCHAR + "/?=:@;,", max_size=40).map(lambda path: "/" + path)
names = tokens.filter(lambda n: n.lower() not in RESERVED)
values = st.text(VCHAR + " \t", max_size=30).map(lambda v: v.strip(" \t"))
ows = st.sampled_from(["", " ", "\t", "  "])
fields = st.lists(st.tuples(names, ows, values, ows), max_size=8)
bodies = st.binary(max_size=200)


@st.composite
def chunked_body(draw: st.DrawFn, body: bytes) -> bytes:
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=6))))
    edges = [0, *[c for c in cuts if c < len(body)], len(body)]
    wire = []
    for a, b in zip(edges, edges[1:]):
        if b > a:
            hex_size = draw(st.sampled_from(["{:x}", "{:X}", "0{:x}"])).format(b - a)
            ext = draw(st.sampled_from(["", ";a", ";name=value", ';q="x y"']))
            wire.append(f"{hex_size}{ext}\r\n".encode() + body[a:b] + b"\r\n")
    trailers = draw(fields)
    wire.append(b"0\r\n" + field_lines(trailers) + b"\r\n")
    return b"".join(wire)


def field_lines(items: List[Tuple[str, str, str, str]]) -> bytes:
    return b"".join(f"{n}:{pre}{v}{post}\r\n".encode() for n, pre, v, post in items)


@st.composite
def request_bytes(draw: st.DrawFn) -> bytes:
    head = f"{draw(methods)} {draw(targets)} HTTP/1.1\r\nHost: example.com\r\n".encode()
    head += field_lines(draw(fields))
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    body = draw(bodies)
    if framing == "length":
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    if framing == "chunked":
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + draw(chunked_body(body))
    return head + b"\r\n"


def cut(data: bytes, points: List[int]) -> List[bytes]:
    marks = sorted({p for p in points if 0 < p < len(data)})
    edges = [0, *marks, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


@settings(max_examples=150, deadline=None)
@given(st.lists(request_bytes(), min_size=1, max_size=3),
       st.lists(st.integers(min_value=0, max_value=4000), max_size=30))
def test_random_valid_requests_match_h11(requests: List[bytes], points: List[int]) -> None:
    wire = b"".join(requests)
    expected, h11_error = h11_run(wire)
    assert expected.end == "ok" and len(expected.messages) == len(requests), h11_error
    got, error = netlab_run(RequestParser(), cut(wire, points))
    assert got == expected, (f"{_clip.repr(wire)}\n  netlab: {show(got, str(error))}\n"
                             f"  h11:    {show(expected, h11_error)}")
