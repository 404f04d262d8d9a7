// libFuzzer target for one codec's decoders, chosen at build time by NETLAB_FUZZ_CODEC.
//
// The input's first bytes configure the codec and a chunking seed; the rest is the stream.
// Beyond "no crash, no leak, no UB", it checks the decoders agree with themselves: the stream
// fed whole, fed in arbitrary chunks, and drained in place from a Buffer must give the same
// frames and fail at the same offset, and every frame must survive a re-encode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "netlab/codec/codec.h"
#include "netlab/codec/frame_reader.h"
#include "netlab/codec/stream_decoder.h"

namespace {

using netlab::Codec;
using netlab::FrameError;
using netlab::FrameView;

struct Decoded {
  std::vector<std::string> frames;  // payload plus header fields, flattened
  bool failed = false;
  uint64_t offset = 0;
  int kind = -1;
};

std::string flatten(const FrameView& f) {
  return std::string(f.payload) + '|' + std::to_string(f.version) + '|' +
         std::to_string(f.command) + '|' + std::to_string(f.sequence);
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::shared_ptr<const Codec> makeCodec(uint8_t a, uint8_t b) {
  netlab::Error error;
  std::string codec = NETLAB_FUZZ_CODEC;
  if (codec == "line") {
    static const char* kDelims[] = {"\n", "\r\n", "||", "\0END"};
    std::string delim = a % 4 == 3 ? std::string("\0END", 4) : kDelims[a % 4];
    return netlab::makeLineCodec(delim, 1 + b, (a & 4) != 0, &error);
  }
  if (codec == "length_prefix") {
    static const int kWidths[] = {1, 2, 4, 8};
    return netlab::makeLengthPrefixCodec(kWidths[a % 4], (a & 4) != 0, b * 4u, &error);
  }
  if (codec == "fixed") return netlab::makeFixedCodec(1 + b % 64, &error);
  return netlab::makeHeaderCodec(a % 3, b * 8u, &error);
}

template <typename Feed>
Decoded run(Feed&& feed) {
  Decoded d;
  feed(d);
  return d;
}

Decoded decodeChunked(const std::shared_ptr<const Codec>& codec, std::string_view stream,
                      uint32_t seed) {
  netlab::StreamDecoder decoder(codec);
  Decoded d;
  size_t at = 0;
  while (at < stream.size()) {
    seed = seed * 1103515245u + 12345u;
    size_t take = std::min<size_t>(stream.size() - at, 1 + (seed >> 16) % 97);
    bool ok = decoder.feed(stream.substr(at, take),
                           [&](const FrameView& f) { d.frames.push_back(flatten(f)); });
    check(decoder.pending() <= codec->maxWireFrame() + take);  // the bound on partial data
    at += take;
    if (!ok) {
      d.failed = true;
      d.offset = decoder.error().offset;
      d.kind = static_cast<int>(decoder.error().kind);
      check(!decoder.feed("x", [](const FrameView&) { check(false); }));  // stays failed
      break;
    }
  }
  return d;
}

Decoded decodeInPlace(const std::shared_ptr<const Codec>& codec, std::string_view stream) {
  netlab::FrameReader reader(codec);
  netlab::Buffer input;
  Decoded d;
  for (size_t at = 0; at < stream.size(); at += 13) {
    input.append(stream.substr(at, 13));
    size_t frames = 0;
    FrameError error;
    bool ok = reader.drain(input, [&](const FrameView& f) { d.frames.push_back(flatten(f)); },
                           frames, error);
    if (!ok) {
      d.failed = true;
      d.offset = error.offset;
      d.kind = static_cast<int>(error.kind);
      break;
    }
  }
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  auto codec = makeCodec(data[0], data[1]);
  if (!codec) return 0;
  uint32_t seed = data[2] | (data[3] << 8);
  std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  Decoded whole = run([&](Decoded& d) {
    netlab::StreamDecoder decoder(codec);
    bool ok = decoder.feed(stream, [&](const FrameView& f) {
      d.frames.push_back(flatten(f));
      std::string wire;
      FrameError error;
      if (!codec->encode(f, wire, error)) {
        // Only LineCodec(strip_cr) may refuse a decoded frame: "x\r\r\n" decodes to "x\r".
        check(!f.payload.empty() && f.payload.back() == '\r');
        return;
      }
      netlab::StreamDecoder again(codec);
      size_t n = 0;
      check(again.feed(wire, [&](const FrameView& g) { n++, check(flatten(g) == flatten(f)); }));
      check(n == 1 && again.pending() == 0);
    });
    if (!ok) {
      d.failed = true;
      d.offset = decoder.error().offset;
      d.kind = static_cast<int>(decoder.error().kind);
    }
  });
  Decoded chunked = decodeChunked(codec, stream, seed);
  Decoded inPlace = decodeInPlace(codec, stream);
  for (const Decoded* other : {&chunked, &inPlace}) {
    check(other->frames == whole.frames);
    check(other->failed == whole.failed);
    if (whole.failed) check(other->offset == whole.offset && other->kind == whole.kind);
  }
  return 0;
}
