// The log collector's binary header: version u8, command u8, payload length u16, sequence u32,
// all in network byte order, then the payload.
#include "netlab/codec/codec.h"

namespace netlab {
namespace {

uint32_t readBig(std::string_view data, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(data[at + i]);
  return v;
}

void writeBig(std::string& out, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

class HeaderCodec final : public Codec {
 public:
  HeaderCodec(uint8_t version, size_t maxPayload) : version_(version), maxPayload_(maxPayload) {}

  std::string_view name() const override { return "header"; }

  ParseResult parse(std::string_view data, size_t /*from*/, FrameView& frame) const override {
    ParseResult r;
    if (data.size() < kHeaderCodecHeaderBytes) return r;
    uint8_t version = static_cast<uint8_t>(data[0]);
    size_t length = readBig(data, 2, 2);
    if (version != version_) {
      r.status = ParseResult::kError;
      r.error = {FrameErrorKind::kMalformed, 0,
                 "protocol version " + std::to_string(version) + ", expected " +
                     std::to_string(version_)};
      return r;
    }
    if (length > maxPayload_) {
      r.status = ParseResult::kError;
      r.error = {FrameErrorKind::kTooLarge, 2,
                 "payload length " + std::to_string(length) + " exceeds max_payload " +
                     std::to_string(maxPayload_)};
      return r;
    }
    size_t total = kHeaderCodecHeaderBytes + length;
    if (data.size() < total) {
      r.needed = total;
      return r;
    }
    frame.version = version;
    frame.command = static_cast<uint8_t>(data[1]);
    frame.sequence = readBig(data, 4, 4);
    frame.payload = data.substr(kHeaderCodecHeaderBytes, length);
    r.status = ParseResult::kFrame;
    r.consumed = total;
    return r;
  }

  bool encode(const FrameView& frame, std::string& out, FrameError& error) const override {
    if (frame.payload.size() > maxPayload_) {
      error = {FrameErrorKind::kTooLarge, 0,
               "payload of " + std::to_string(frame.payload.size()) +
                   " bytes exceeds max_payload " + std::to_string(maxPayload_)};
      return false;
    }
    out.push_back(static_cast<char>(version_));
    out.push_back(static_cast<char>(frame.command));
    writeBig(out, static_cast<uint32_t>(frame.payload.size()), 2);
    writeBig(out, frame.sequence, 4);
    out.append(frame.payload);
    return true;
  }

  size_t maxWireFrame() const override { return kHeaderCodecHeaderBytes + maxPayload_; }
  std::string describe() const override {
    return "HeaderCodec(version=" + std::to_string(version_) +
           ", max_payload=" + std::to_string(maxPayload_) + ")";
  }

 private:
  uint8_t version_;
  size_t maxPayload_;
};

}  // namespace

std::shared_ptr<const Codec> makeHeaderCodec(uint8_t version, size_t maxPayload, Error* error) {
  if (maxPayload > 0xffff) {  // the length field is 16 bits
    *error = {EINVAL, "max_payload must be at most 65535 (the length field is u16)"};
    return nullptr;
  }
  return std::make_shared<HeaderCodec>(version, maxPayload);
}

}  // namespace netlab
