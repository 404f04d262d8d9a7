"""Framing codecs: a TCP byte stream in, messages out, and back.

TCP keeps no message boundaries: one ``send()`` can arrive in pieces or glued to the next.
Each codec here is implemented once, in C++, and shared by the servers, the load generator
and these Python objects::

    codec = LengthPrefixCodec(header_bytes=4)
    wire = codec.encode(b"hello") + codec.encode(b"world")
    dec = codec.decoder()
    dec.feed(wire[:3])   # []           (a partial header is kept: dec.pending == 3)
    dec.feed(wire[3:])   # [b'hello', b'world']

A malformed stream raises a :class:`FrameError` subclass carrying the stream offset; the
decoder then stays failed (every later ``feed`` raises again) and never resynchronises.
"""

from __future__ import annotations

import enum

# The exceptions and Frame are made by the engine, which raises them; they live here for users.
from netlab._core import (
    Codec,
    Decoder,
    FixedCodec,
    Frame,
    FrameError,
    FrameTooLarge,
    HeaderCodec,
    LengthPrefixCodec,
    LineCodec,
    MalformedFrame,
)


class Command(enum.IntEnum):
    """Well-known :class:`HeaderCodec` commands (log collector and binary chat)."""

    LOG = 1
    QUERY = 2
    PING = 3
    STATS = 4
    CLIENT_CHAT = 16
    SERVER_ECHO = 17
    SERVER_ACK = 18
    SERVER_INFO = 19


__all__ = [
    "Codec", "Command", "Decoder", "FixedCodec", "Frame", "FrameError", "FrameTooLarge",
    "HeaderCodec", "LengthPrefixCodec", "LineCodec", "MalformedFrame",
]
