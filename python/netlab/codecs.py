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
from typing import Any, NamedTuple, Optional

from netlab._core import Codec, Decoder, FixedCodec, HeaderCodec, LengthPrefixCodec, LineCodec


class FrameError(ValueError):
    """The byte stream (or a payload to encode) breaks the codec's rules.

    Attributes:
        offset: stream offset of the bad frame (0 for an encoding error).
        frames: frames decoded from the same ``feed()`` before the error, so none are lost.
    """

    def __init__(self, message: str, offset: int = 0, frames: Optional[list[Any]] = None) -> None:
        super().__init__(message)
        self.offset = offset
        self.frames: list[Any] = list(frames or [])


class FrameTooLarge(FrameError):
    """A frame (or line) is longer than the codec's configured maximum."""


class MalformedFrame(FrameError):
    """A frame's header is invalid, e.g. an unexpected protocol version."""


class Frame(NamedTuple):
    """One :class:`HeaderCodec` message."""

    version: int
    command: int
    sequence: int
    payload: bytes


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
