// Every message is exactly `size` bytes (fixed-size records, benchmark messages).
#include "netlab/codec/codec.h"

namespace netlab {
namespace {

class FixedCodec final : public Codec {
 public:
  explicit FixedCodec(size_t size) : size_(size) {}

  std::string_view name() const override { return "fixed"; }

  ParseResult parse(std::string_view data, size_t /*from*/, FrameView& frame) const override {
    ParseResult r;
    if (data.size() < size_) {
      r.needed = size_;
      return r;
    }
    frame.payload = data.substr(0, size_);
    r.status = ParseResult::kFrame;
    r.consumed = size_;
    return r;
  }

  bool encode(const FrameView& frame, std::string& out, FrameError& error) const override {
    if (frame.payload.size() != size_) {
      FrameErrorKind kind =
          frame.payload.size() > size_ ? FrameErrorKind::kTooLarge : FrameErrorKind::kMalformed;
      error = {kind, 0,
               "FixedCodec(size=" + std::to_string(size_) + ") needs payloads of exactly " +
                   std::to_string(size_) + " bytes, got " + std::to_string(frame.payload.size())};
      return false;
    }
    out.append(frame.payload);
    return true;
  }

  size_t maxWireFrame() const override { return size_; }
  std::string describe() const override {
    return "FixedCodec(size=" + std::to_string(size_) + ")";
  }

 private:
  size_t size_;
};

}  // namespace

std::shared_ptr<const Codec> makeFixedCodec(size_t size, Error* error) {
  if (size == 0 || size > (1u << 30)) {
    *error = {EINVAL, "size must be 1 byte to 1 GiB"};
    return nullptr;
  }
  return std::make_shared<FixedCodec>(size);
}

}  // namespace netlab
