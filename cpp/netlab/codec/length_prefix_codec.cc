// A length header of 1, 2, 4 or 8 bytes, then that many payload bytes.
#include <algorithm>

#include "netlab/codec/codec.h"

namespace netlab {
namespace {

class LengthPrefixCodec final : public Codec {
 public:
  LengthPrefixCodec(int headerBytes, bool bigEndian, uint64_t maxFrame)
      : header_(headerBytes), bigEndian_(bigEndian), maxFrame_(maxFrame) {}

  std::string_view name() const override { return "length_prefix"; }

  ParseResult parse(std::string_view data, size_t /*from*/, FrameView& frame) const override {
    ParseResult r;
    if (data.size() < static_cast<size_t>(header_)) return r;
    uint64_t length = readLength(data);
    if (length > maxFrame_) {
      r.status = ParseResult::kError;
      r.error = {FrameErrorKind::kTooLarge, 0,
                 "frame length " + std::to_string(length) + " exceeds max_frame " +
                     std::to_string(maxFrame_)};
      return r;
    }
    size_t total = header_ + static_cast<size_t>(length);
    if (data.size() < total) {
      r.needed = total;
      return r;
    }
    frame.payload = data.substr(header_, length);
    r.status = ParseResult::kFrame;
    r.consumed = total;
    return r;
  }

  bool encode(const FrameView& frame, std::string& out, FrameError& error) const override {
    uint64_t length = frame.payload.size();
    uint64_t headerMax = header_ == 8 ? ~0ull : (1ull << (8 * header_)) - 1;
    if (length > maxFrame_ || length > headerMax) {
      error = {FrameErrorKind::kTooLarge, 0,
               "payload of " + std::to_string(length) + " bytes exceeds max_frame " +
                   std::to_string(std::min(maxFrame_, headerMax))};
      return false;
    }
    char header[8];
    for (int i = 0; i < header_; ++i) {
      int shift = 8 * (bigEndian_ ? header_ - 1 - i : i);
      header[i] = static_cast<char>((length >> shift) & 0xff);
    }
    out.append(header, header_);
    out.append(frame.payload);
    return true;
  }

  size_t maxWireFrame() const override { return header_ + maxFrame_; }

  std::string describe() const override {
    return "LengthPrefixCodec(header_bytes=" + std::to_string(header_) +
           ", byteorder='" + (bigEndian_ ? "big" : "little") + "'" +
           ", max_frame=" + std::to_string(maxFrame_) + ")";
  }

 private:
  uint64_t readLength(std::string_view data) const {
    uint64_t length = 0;
    for (int i = 0; i < header_; ++i) {
      uint64_t byte = static_cast<unsigned char>(data[i]);
      length |= byte << (8 * (bigEndian_ ? header_ - 1 - i : i));
    }
    return length;
  }

  int header_;
  bool bigEndian_;
  uint64_t maxFrame_;
};

}  // namespace

std::shared_ptr<const Codec> makeLengthPrefixCodec(int headerBytes, bool bigEndian,
                                                   uint64_t maxFrame, Error* error) {
  if (headerBytes != 1 && headerBytes != 2 && headerBytes != 4 && headerBytes != 8) {
    *error = {EINVAL, "header_bytes must be 1, 2, 4 or 8"};
    return nullptr;
  }
  // Frames are held whole in memory, so the bound must be a size a process can hold.
  if (maxFrame > (1ull << 32)) {
    *error = {EINVAL, "max_frame must be at most 4 GiB"};
    return nullptr;
  }
  return std::make_shared<LengthPrefixCodec>(headerBytes, bigEndian, maxFrame);
}

}  // namespace netlab
