#include "netlab/apps/echo.h"

#include <chrono>
#include <string>
#include <thread>

#include "netlab/codec/frame_reader.h"
#include "netlab/io/clock.h"

namespace netlab {
namespace {

// Without a codec a "message" is whatever one read returned: echo has no framing of its own.
class RawEchoHandler final : public Handler {
 public:
  explicit RawEchoHandler(std::shared_ptr<StallOnce> stall) : stall_(std::move(stall)) {}

  size_t onData(Conn& conn, Buffer& input) override {
    if (input.empty()) return 0;
    if (stall_) stall_->maybeStall();
    conn.send(input.view());
    input.clear();
    return 1;
  }

 private:
  std::shared_ptr<StallOnce> stall_;
};

class FramedEchoHandler final : public Handler {
 public:
  FramedEchoHandler(std::shared_ptr<const Codec> codec, std::shared_ptr<StallOnce> stall)
      : reader_(std::move(codec)), stall_(std::move(stall)) {}

  size_t onData(Conn& conn, Buffer& input) override {
    if (stall_) stall_->maybeStall();
    FrameError error;
    size_t frames = 0;
    bool ok = reader_.drain(
        input,
        [&](const FrameView& frame) {
          scratch_.clear();
          FrameError encodeError;
          // Re-encoding a frame the same codec just decoded cannot fail: it is within its limits.
          reader_.codec().encode(frame, scratch_, encodeError);
          conn.send(scratch_);
        },
        frames, error, [&] { return conn.budgetLeft(); });
    // A binary peer cannot be told in-band; the reason goes to the log and the counters.
    if (!ok)
      conn.fail("bad frame at offset " + std::to_string(error.offset) + ": " + error.message);
    return frames;
  }

 private:
  FrameReader reader_;
  std::string scratch_;
  std::shared_ptr<StallOnce> stall_;
};

}  // namespace

const std::vector<Field<EchoOptions>>& Fields<EchoOptions>::fields() {
  static const std::vector<Field<EchoOptions>> table = {
      optionalNumber("stall_at", &EchoOptions::stallAt, 0, 365 * 86400.0, "seconds",
                     "inject one pause: the first message handled this long after start makes "
                     "its thread sleep stall_for"),
      number("stall_for", &EchoOptions::stallFor, 0, 3600, "seconds", "length of that pause"),
  };
  return table;
}

EchoProtocol::EchoProtocol(const EchoOptions& options, std::shared_ptr<const Codec> codec)
    : codec_(std::move(codec)), options_(options) {
  if (options.stallAt) stall_ = std::make_shared<StallOnce>(*options.stallAt, options.stallFor);
}

StallOnce::StallOnce(double atSec, double forSec)
    : atNs(nowNs() + static_cast<int64_t>(atSec * kNsPerSec)),
      forNs(static_cast<int64_t>(forSec * kNsPerSec)) {}

void StallOnce::maybeStall() {
  if (done.load(std::memory_order_relaxed) || nowNs() < atNs) return;
  if (done.exchange(true)) return;
  std::this_thread::sleep_for(std::chrono::nanoseconds(forNs));
}

std::unique_ptr<Handler> EchoProtocol::newHandler() {
  if (codec_) return std::make_unique<FramedEchoHandler>(codec_, stall_);
  return std::make_unique<RawEchoHandler>(stall_);
}

size_t EchoProtocol::maxPendingInput() const {
  return codec_ ? codec_->maxWireFrame() + 1 : Protocol::maxPendingInput();
}

}  // namespace netlab
