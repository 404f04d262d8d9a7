#include "netlab/apps/echo.h"

#include <string>

#include "netlab/codec/frame_reader.h"

namespace netlab {
namespace {

// Without a codec a "message" is whatever one read returned: echo has no framing of its own.
class RawEchoHandler final : public Handler {
 public:
  size_t onData(Conn& conn, Buffer& input) override {
    if (input.empty()) return 0;
    conn.send(input.view());
    input.clear();
    return 1;
  }
};

class FramedEchoHandler final : public Handler {
 public:
  explicit FramedEchoHandler(std::shared_ptr<const Codec> codec) : reader_(std::move(codec)) {}

  size_t onData(Conn& conn, Buffer& input) override {
    FrameError error;
    size_t frames = 0;
    bool ok = reader_.drain(input, [&](const FrameView& frame) {
      scratch_.clear();
      FrameError encodeError;
      // Re-encoding a frame the same codec just decoded cannot fail: it is within its limits.
      reader_.codec().encode(frame, scratch_, encodeError);
      conn.send(scratch_);
    }, frames, error);
    // A binary peer cannot be told in-band; the reason goes to the log and the counters.
    if (!ok) conn.fail("bad frame at offset " + std::to_string(error.offset) + ": " + error.message);
    return frames;
  }

 private:
  FrameReader reader_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Handler> EchoProtocol::newHandler() {
  if (codec_) return std::make_unique<FramedEchoHandler>(codec_);
  return std::make_unique<RawEchoHandler>();
}

size_t EchoProtocol::maxPendingInput() const {
  return codec_ ? codec_->maxWireFrame() + 1 : Protocol::maxPendingInput();
}

}  // namespace netlab
