// Framing codecs: how a TCP byte stream becomes messages and back. Written once, used by the
// servers, the load generator, the clients and Python's netlab.codecs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "netlab/io/result.h"

namespace netlab {

/// One decoded message. `payload` points into the bytes that were parsed: valid until the
/// caller's buffer changes. The header fields are meaningful for HeaderCodec only.
struct FrameView {
  std::string_view payload;
  uint8_t version = 0;
  uint8_t command = 0;
  uint32_t sequence = 0;
};

enum class FrameErrorKind { kTooLarge, kMalformed };

struct FrameError {
  FrameErrorKind kind = FrameErrorKind::kMalformed;
  uint64_t offset = 0;  // stream offset where the bad frame starts, or where it went wrong
  std::string message;
};

/// What parse() found at the front of the bytes it was given.
struct ParseResult {
  enum Status { kFrame, kNeedMore, kError } status = kNeedMore;
  size_t consumed = 0;  // kFrame: bytes the frame occupied
  size_t needed = 0;    // kNeedMore: total bytes the frame needs, when the header tells (else 0)
  FrameError error;     // kError: offset relative to the start of the bytes given
};

class Codec {
 public:
  virtual ~Codec() = default;
  virtual std::string_view name() const = 0;
  /// Parses the first frame of `data` without copying anything. `from` is how many leading
  /// bytes an earlier call already found to hold no frame end (its `needed`-less kNeedMore
  /// answer), so a long line arriving in small pieces is scanned once, not once per piece.
  virtual ParseResult parse(std::string_view data, size_t from, FrameView& frame) const = 0;
  /// Appends the encoded frame to `out`. Fails (offset 0) when the frame cannot be encoded.
  virtual bool encode(const FrameView& frame, std::string& out, FrameError& error) const = 0;
  /// The largest frame on the wire; a decoder never holds much more than this.
  virtual size_t maxWireFrame() const = 0;
  /// A short description such as "LengthPrefixCodec(header_bytes=4, ...)".
  virtual std::string describe() const = 0;
};

/// `delimiter` ends each line; `stripCr` also drops a '\r' before a "\n" delimiter.
std::shared_ptr<const Codec> makeLineCodec(std::string delimiter, size_t maxLength, bool stripCr,
                                           Error* error);
std::shared_ptr<const Codec> makeLengthPrefixCodec(int headerBytes, bool bigEndian,
                                                   uint64_t maxFrame, Error* error);
std::shared_ptr<const Codec> makeFixedCodec(size_t size, Error* error);
/// version u8, command u8, payload length u16, sequence u32 (network order), then the payload.
std::shared_ptr<const Codec> makeHeaderCodec(uint8_t version, size_t maxPayload, Error* error);

constexpr size_t kHeaderCodecHeaderBytes = 8;

}  // namespace netlab
