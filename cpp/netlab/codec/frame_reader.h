// Decodes frames in place from a connection's input Buffer: the server-side twin of
// StreamDecoder, for handlers whose I/O model already owns the bytes.
#pragma once

#include <memory>

#include "netlab/codec/codec.h"
#include "netlab/io/buffer.h"

namespace netlab {

class FrameReader {
 public:
  explicit FrameReader(std::shared_ptr<const Codec> codec) : codec_(std::move(codec)) {}

  /// Calls onFrame for each complete frame at the front of `input` and consumes it, counting
  /// them in `frames`. Returns false at a malformed frame, with `error` set (its offset from
  /// the start of the stream); the frames before it have been delivered.
  template <typename OnFrame>
  bool drain(Buffer& input, OnFrame&& onFrame, size_t& frames, FrameError& error) {
    return drain(input, onFrame, frames, error, [] { return true; });
  }

  /// The same, but asks `more()` before handling each complete frame and stops, leaving it
  /// and the rest of the input in place, when it says no (a connection's per-turn budget,
  /// see Conn::budgetLeft). So what it leaves then starts with a complete frame.
  template <typename OnFrame, typename More>
  bool drain(Buffer& input, OnFrame&& onFrame, size_t& frames, FrameError& error, More&& more) {
    frames = 0;
    for (;;) {
      FrameView frame;
      ParseResult r = codec_->parse(input.view(), scanned_, frame);
      if (r.status == ParseResult::kNeedMore) {
        scanned_ = input.readable();
        return true;
      }
      if (r.status == ParseResult::kError) {
        error = r.error;
        error.offset += offset_;
        return false;
      }
      if (!more()) return true;
      onFrame(frame);
      input.consume(r.consumed);
      offset_ += r.consumed;
      scanned_ = 0;
      ++frames;
    }
  }

  const Codec& codec() const { return *codec_; }

 private:
  std::shared_ptr<const Codec> codec_;
  size_t scanned_ = 0;
  uint64_t offset_ = 0;
};

}  // namespace netlab
