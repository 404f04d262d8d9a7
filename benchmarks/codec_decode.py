"""Decode throughput of netlab's LengthPrefixCodec, side by side with a pure-Python decoder.

Three decoders read the same stream of length-prefixed frames (4-byte big-endian header),
delivered in 64 KiB chunks, in one run:

- ``C++ decoder``: netlab's StreamDecoder alone, in C++ with the GIL released; frames are
  counted, not copied (``netlab._core._decode_only``).
- ``netlab feed()``: ``LengthPrefixCodec().decoder().feed(chunk)``, returning ``bytes`` objects.
- ``pure Python``: the straightforward ``struct`` + ``bytearray`` decoder below.

Frame sizes are whole frames on the wire (header included): 64 B and 4 KiB.
Usage: python benchmarks/codec_decode.py [--mib 64] [--repeat 5] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import time
from pathlib import Path
from typing import Any, Callable

from netlab import _core
from netlab.codecs import Decoder, LengthPrefixCodec

CHUNK = 64 * 1024


class PurePythonDecoder:
    """What one writes without netlab: accumulate, unpack the header, slice, delete."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self.buf += chunk
        frames = []
        while len(self.buf) >= 4:
            (length,) = struct.unpack_from(">I", self.buf, 0)
            if len(self.buf) < 4 + length:
                break
            frames.append(bytes(self.buf[4:4 + length]))
            del self.buf[:4 + length]
        return frames


def make_stream(frame_bytes: int, total: int) -> tuple[bytes, int]:
    codec = LengthPrefixCodec()
    frame = codec.encode(os.urandom(frame_bytes - 4))
    count = total // frame_bytes
    return frame * count, count


def chunks_of(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]


def time_feed(make_decoder: Callable[[], Decoder | PurePythonDecoder], chunks: list[bytes],
              expected: int) -> float:
    decoder = make_decoder()
    start = time.perf_counter()
    frames = 0
    for chunk in chunks:
        frames += len(decoder.feed(chunk))
    elapsed = time.perf_counter() - start
    assert frames == expected, (frames, expected)
    return elapsed


def time_native(data: bytes, expected: int) -> float:
    frames, _, seconds = _core._decode_only(LengthPrefixCodec(), data, CHUNK)
    assert frames == expected
    return seconds


def measure(frame_bytes: int, total: int, repeat: int) -> list[dict[str, Any]]:
    data, count = make_stream(frame_bytes, total)
    chunks = chunks_of(data)
    runs: dict[str, Callable[[], float]] = {
        "C++ decoder": lambda: time_native(data, count),
        "netlab feed()": lambda: time_feed(lambda: LengthPrefixCodec().decoder(), chunks, count),
        "pure Python": lambda: time_feed(PurePythonDecoder, chunks, count),
    }
    # Rounds interleave the decoders, so a noisy neighbour slows all of them alike.
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            times[name].append(run())
    rows: list[dict[str, Any]] = []
    for name in runs:
        best = min(times[name])
        rows.append({"frame_bytes": frame_bytes, "decoder": name, "frames": count,
                     "seconds": best, "mb_per_s": len(data) / best / 1e6,
                     "frames_per_s": count / best})
    reference = rows[-1]["frames_per_s"]
    for row in rows:
        row["x_pure_python"] = row["frames_per_s"] / reference
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="stream size per run (MiB)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per decoder; best is kept")
    parser.add_argument("--out", type=Path, default=None, help="write codec_decode.{json,md} here")
    args = parser.parse_args()

    rows = []
    for frame_bytes in (64, 4096):
        rows += measure(frame_bytes, args.mib << 20, args.repeat)
    header = f"| frame | decoder | MB/s | frames/s | x pure Python |\n|---|---|---|---|---|\n"
    table = header + "".join(
        f"| {r['frame_bytes']} B | {r['decoder']} | {r['mb_per_s']:,.0f} | "
        f"{r['frames_per_s']:,.0f} | {r['x_pure_python']:.1f} |\n" for r in rows)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = {"python": platform.python_version(), "machine": platform.machine(),
                "cpus": os.cpu_count(), "stream_mib": args.mib, "chunk": CHUNK,
                "repeat": args.repeat, "statistic": "best of repeat"}
        (args.out / "codec_decode.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                               indent=2))
        (args.out / "codec_decode.md").write_text(
            "# Codec decode throughput\n\n"
            f"`python benchmarks/codec_decode.py --mib {args.mib} --repeat {args.repeat}`; "
            f"LengthPrefixCodec (4-byte header), {CHUNK // 1024} KiB chunks, best of "
            f"{args.repeat}, {meta['cpus']} CPUs, Python {meta['python']}.\n\n" + table)


if __name__ == "__main__":
    main()
