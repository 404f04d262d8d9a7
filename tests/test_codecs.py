"""Codecs: any payloads, encoded and cut anywhere, decode to exactly the same payloads."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.codecs import (
    Command,
    FixedCodec,
    Frame,
    FrameError,
    FrameTooLarge,
    HeaderCodec,
    LengthPrefixCodec,
    LineCodec,
    MalformedFrame,
)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """Splits data at the given points (any order, duplicates and out-of-range ignored)."""
    marks = sorted({p for p in points if 0 < p < len(data)})
    edges = [0, *marks, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def decode_all(codec, chunks: list[bytes]) -> list:
    dec = codec.decoder()
    frames = []
    for chunk in chunks:
        frames += dec.feed(chunk)
    assert dec.pending == 0
    return frames


payloads = st.lists(st.binary(max_size=300), max_size=30)
cut_points = st.lists(st.integers(min_value=0, max_value=10_000), max_size=40)


@settings(max_examples=300, deadline=None)
@given(payloads, cut_points, st.sampled_from([1, 2, 4, 8]), st.sampled_from(["big", "little"]))
def test_length_prefix_round_trip(items, points, header_bytes, byteorder) -> None:
    codec = LengthPrefixCodec(header_bytes=header_bytes, byteorder=byteorder, max_frame=255)
    wire = b"".join(codec.encode(p) for p in items)
    assert decode_all(codec, cut(wire, points)) == items


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       cut_points, st.booleans())
def test_line_round_trip(items, points, strip_cr) -> None:
    codec = LineCodec(max_length=200, strip_cr=strip_cr)
    if strip_cr:  # a trailing CR is part of the line ending, not of the payload
        items = [p.rstrip(b"\r") for p in items]
    wire = b"".join(codec.encode(p) for p in items)
    assert decode_all(codec, cut(wire, points)) == items


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=100), max_size=30), cut_points,
       st.sampled_from([b"\r\n", b"||", b"\x00END\x00"]))
def test_multibyte_delimiter_round_trip(raw, points, delimiter) -> None:
    codec = LineCodec(delimiter=delimiter, max_length=1000, strip_cr=False)
    # Unambiguous payloads: the first delimiter in payload+delimiter is the one appended.
    items = [p for p in raw if (p + delimiter).find(delimiter) == len(p)]
    wire = b"".join(codec.encode(p) for p in items)
    assert decode_all(codec, cut(wire, points)) == items


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=64), st.data())
def test_fixed_round_trip(size, data) -> None:
    codec = FixedCodec(size)
    items = data.draw(st.lists(st.binary(min_size=size, max_size=size), max_size=30))
    wire = b"".join(codec.encode(p) for p in items)
    assert decode_all(codec, cut(wire, data.draw(cut_points))) == items


frames = st.lists(st.tuples(st.integers(0, 255), st.integers(0, 2**32 - 1), st.binary(max_size=300)),
                  max_size=20)


@settings(max_examples=300, deadline=None)
@given(frames, cut_points)
def test_header_round_trip(items, points) -> None:
    codec = HeaderCodec(version=3)
    wire = b"".join(codec.encode(p, command=c, sequence=s) for c, s, p in items)
    assert decode_all(codec, cut(wire, points)) == [Frame(3, c, s, p) for c, s, p in items]


@pytest.mark.parametrize("codec, payload", [
    (LineCodec(), b"hello"), (LengthPrefixCodec(), b"hello"), (FixedCodec(5), b"hello"),
    (HeaderCodec(), b"hello"),
])
def test_one_byte_chunks(codec, payload) -> None:
    wire = codec.encode(payload) * 3
    got = decode_all(codec, [wire[i:i + 1] for i in range(len(wire))])
    assert [getattr(f, "payload", f) for f in got] == [payload] * 3


# -- boundaries --------------------------------------------------------------------------------

def test_empty_payloads() -> None:
    assert decode_all(LineCodec(), [b"\n\r\n\n"]) == [b"", b"", b""]
    codec = LengthPrefixCodec(header_bytes=2)
    assert codec.encode(b"") == b"\x00\x00"
    assert decode_all(codec, [b"\x00\x00" * 3]) == [b"", b"", b""]
    assert decode_all(HeaderCodec(), [HeaderCodec().encode(b"")])[0].payload == b""


def test_length_prefix_max_and_max_plus_one() -> None:
    codec = LengthPrefixCodec(header_bytes=4, max_frame=1000)
    assert decode_all(codec, [codec.encode(b"m" * 1000)]) == [b"m" * 1000]
    with pytest.raises(FrameTooLarge, match="payload of 1001 bytes exceeds max_frame 1000"):
        codec.encode(b"m" * 1001)
    dec = codec.decoder()
    good = codec.encode(b"ok")
    with pytest.raises(FrameTooLarge) as info:
        dec.feed(good + struct.pack(">I", 1001))
    assert info.value.offset == len(good)
    assert info.value.frames == [b"ok"]
    assert "frame length 1001 exceeds max_frame 1000" in str(info.value)


def test_header_byte_width_limits_the_frame() -> None:
    codec = LengthPrefixCodec(header_bytes=1, max_frame=1000)
    assert decode_all(codec, [codec.encode(b"x" * 255)]) == [b"x" * 255]
    with pytest.raises(FrameTooLarge):
        codec.encode(b"x" * 256)


def test_length_prefix_header_split_across_chunks() -> None:
    codec = LengthPrefixCodec(header_bytes=8, byteorder="little")
    wire = codec.encode(b"split header")
    dec = codec.decoder()
    for i in range(7):
        assert dec.feed(wire[i:i + 1]) == []
    assert dec.pending == 7
    assert dec.feed(wire[7:]) == [b"split header"]
    assert dec.pending == 0 and dec.offset == len(wire)


def test_line_max_and_max_plus_one() -> None:
    codec = LineCodec(max_length=10)
    assert decode_all(codec, [b"0123456789\r\n"]) == [b"0123456789"]
    with pytest.raises(FrameTooLarge) as info:
        codec.decoder().feed(b"ok\n0123456789A\n")
    assert info.value.offset == 3
    # Without a delimiter yet, the decoder gives up as soon as the line cannot fit.
    dec = codec.decoder()
    assert dec.feed(b"0123456789\r") == []
    with pytest.raises(FrameTooLarge):
        dec.feed(b"x")


def test_header_codec_rejects_other_versions() -> None:
    wire = HeaderCodec(version=2).encode(b"v2", command=Command.LOG, sequence=1)
    dec = HeaderCodec(version=1).decoder()
    with pytest.raises(MalformedFrame, match="protocol version 2, expected 1") as info:
        dec.feed(HeaderCodec(version=1).encode(b"fine") + wire)
    assert info.value.offset == 12
    assert [f.payload for f in info.value.frames] == [b"fine"]


def test_header_codec_fields_and_limits() -> None:
    codec = HeaderCodec(max_payload=100)
    wire = codec.encode(b"abc", command=Command.CLIENT_CHAT, sequence=0x01020304)
    assert wire == bytes([1, 16, 0, 3, 1, 2, 3, 4]) + b"abc"
    with pytest.raises(FrameTooLarge):
        codec.encode(b"x" * 101)
    with pytest.raises(FrameTooLarge, match="payload length 101 exceeds max_payload 100"):
        codec.decoder().feed(bytes([1, 1, 0, 101, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="at most 65535"):
        HeaderCodec(max_payload=65536)


def test_failed_decoder_stays_failed() -> None:
    dec = LengthPrefixCodec(header_bytes=1, max_frame=3).decoder()
    with pytest.raises(FrameTooLarge):
        dec.feed(b"\x09")
    assert dec.failed
    for _ in range(2):
        with pytest.raises(FrameTooLarge, match="decoder failed earlier"):
            dec.feed(b"\x01a")  # a valid frame: still refused, no silent resynchronisation


def test_frame_errors_are_value_errors() -> None:
    assert issubclass(FrameTooLarge, FrameError) and issubclass(MalformedFrame, FrameError)
    assert issubclass(FrameError, ValueError)


@pytest.mark.parametrize("make", [
    lambda: LineCodec(delimiter=b""), lambda: LineCodec(max_length=0),
    lambda: LengthPrefixCodec(header_bytes=3), lambda: LengthPrefixCodec(byteorder="middle"),
    lambda: FixedCodec(0), lambda: HeaderCodec(version=256),
])
def test_bad_codec_options(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_line_payload_with_delimiter_cannot_be_encoded() -> None:
    with pytest.raises(MalformedFrame, match="contains the delimiter"):
        LineCodec().encode(b"two\nlines")


def test_decoder_accepts_any_bytes_like() -> None:
    codec = LengthPrefixCodec()
    wire = codec.encode(b"view")
    assert codec.decoder().feed(memoryview(wire)) == [b"view"]
    assert codec.decoder().feed(bytearray(wire)) == [b"view"]


def test_reprs_show_configuration() -> None:
    assert repr(LineCodec(delimiter=b"\r\n", max_length=9)) == \
        "LineCodec(delimiter=b'\\r\\n', max_length=9, strip_cr=False)"
    assert repr(LengthPrefixCodec()) == \
        "LengthPrefixCodec(header_bytes=4, byteorder='big', max_frame=1048576)"


def test_strip_cr_refuses_payloads_it_would_change() -> None:
    # Found by the line fuzzer: "x\r\r\n" decodes to b"x\r", which cannot be re-encoded as is.
    assert LineCodec().decoder().feed(b"x\r\r\n") == [b"x\r"]
    with pytest.raises(MalformedFrame, match="ends with CR"):
        LineCodec().encode(b"x\r")
    assert LineCodec(strip_cr=False).encode(b"x\r") == b"x\r\n"
