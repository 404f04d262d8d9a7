"""EchoServer(codec=...) echoes frame by frame, whatever way the frames are split on the wire."""

from __future__ import annotations

import random
import time

import pytest

import netlab
from netlab.codecs import Command, Frame, HeaderCodec, LengthPrefixCodec, LineCodec
from conftest import connect, recv_until_closed, wait_until


def send_in_random_pieces(sock, wire: bytes, seed: int) -> None:
    rng = random.Random(seed)
    pos = 0
    while pos < len(wire):
        step = rng.choice([1, 3, 7, 64, 1000, 20000])
        sock.sendall(wire[pos:pos + step])
        pos += step
        if rng.random() < 0.1:
            time.sleep(0.001)  # let some pieces arrive as separate reads


def read_frames(sock, codec, count: int) -> list:
    dec, frames = codec.decoder(), []
    while len(frames) < count:
        chunk = sock.recv(65536)
        assert chunk, f"server closed after {len(frames)} of {count} frames"
        frames += dec.feed(chunk)
    assert dec.pending == 0
    return frames


@pytest.mark.parametrize("codec", [LengthPrefixCodec(), LineCodec(), HeaderCodec()],
                         ids=["length_prefix", "line", "header"])
def test_frames_split_across_writes(model_options: dict, codec) -> None:
    rng = random.Random(1)
    # No LF (the line delimiter) and no CR (LineCodec strips a CR before the LF).
    payloads = [rng.randbytes(rng.choice([0, 1, 60, 4096, 30000])).translate(None, b"\r\n")
                for _ in range(60)]
    if isinstance(codec, HeaderCodec):
        wire = b"".join(codec.encode(p, command=Command.LOG, sequence=i)
                        for i, p in enumerate(payloads))
        expected = [Frame(1, Command.LOG, i, p) for i, p in enumerate(payloads)]
    else:
        wire = b"".join(codec.encode(p) for p in payloads)
        expected = payloads
    with netlab.EchoServer(port=0, codec=codec, **model_options) as server:
        with connect(server.port) as s:
            send_in_random_pieces(s, wire, seed=2)
            assert read_frames(s, codec, len(payloads)) == expected
        wait_until(lambda: server.stats()["connections_active"] == 0, what="closed")
        stats = server.stats()
    assert stats["messages_in"] == stats["messages_out"] == len(payloads)
    assert stats["bytes_in"] == stats["bytes_out"] == len(wire)


def test_malformed_frame_closes_only_that_connection(model_options: dict) -> None:
    codec = LengthPrefixCodec(max_frame=1000)
    with netlab.EchoServer(port=0, codec=codec, log_connections=True, **model_options) as server:
        with connect(server.port) as good, connect(server.port) as bad:
            bad.sendall(codec.encode(b"fine") + (5000).to_bytes(4, "big") + b"junk")
            assert recv_until_closed(bad) == codec.encode(b"fine")  # echoed, then closed
            good.sendall(codec.encode(b"unaffected"))
            assert read_frames(good, codec, 1) == [b"unaffected"]
        wait_until(lambda: server.stats()["connections_active"] == 0, what="closed")
        assert server.stats()["errors"] == 1
        events = "\n".join(server.events())
    assert "bad frame at offset 8: frame length 5000 exceeds max_frame 1000" in events
