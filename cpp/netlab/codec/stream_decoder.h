// Turns chunks of a byte stream into frames. Frames that lie wholly inside a chunk are handed
// out where they lie; only a frame split across chunks is copied, once, into a buffer that
// never holds much more than one maximal frame.
#pragma once

#include <algorithm>
#include <memory>
#include <string_view>

#include "netlab/codec/codec.h"
#include "netlab/io/buffer.h"

namespace netlab {

class StreamDecoder {
 public:
  explicit StreamDecoder(std::shared_ptr<const Codec> codec) : codec_(std::move(codec)) {}

  /// Calls onFrame(const FrameView&) for each complete frame, in order. Returns false when the
  /// stream is malformed; the decoder then stays failed, with error(), for every later feed.
  template <typename OnFrame>
  bool feed(std::string_view chunk, OnFrame&& onFrame) {
    if (failed_) return false;
    if (!buffer_.empty() && !completePending(chunk, onFrame)) return false;
    while (!chunk.empty()) {
      FrameView frame;
      ParseResult r = codec_->parse(chunk, 0, frame);
      if (r.status == ParseResult::kFrame) {
        onFrame(frame);
        chunk.remove_prefix(r.consumed);
        offset_ += r.consumed;
      } else if (r.status == ParseResult::kError) {
        return fail(r.error);
      } else {
        buffer_.append(chunk);
        scanned_ = chunk.size();
        break;
      }
    }
    return true;
  }

  size_t pending() const { return buffer_.readable(); }
  bool failed() const { return failed_; }
  const FrameError& error() const { return error_; }
  /// Stream offset just past the last complete frame.
  uint64_t offset() const { return offset_; }
  const Codec& codec() const { return *codec_; }

 private:
  // Finishes the frame split across chunks, taking from `chunk` only what it needs when the
  // header says how long the frame is.
  template <typename OnFrame>
  bool completePending(std::string_view& chunk, OnFrame& onFrame) {
    for (;;) {
      FrameView frame;
      ParseResult r = codec_->parse(buffer_.view(), scanned_, frame);
      if (r.status == ParseResult::kFrame) {
        onFrame(frame);
        buffer_.consume(r.consumed);
        offset_ += r.consumed;
        scanned_ = 0;
        if (buffer_.empty()) return true;
        continue;
      }
      if (r.status == ParseResult::kError) return fail(r.error);
      scanned_ = buffer_.readable();
      if (chunk.empty()) return true;
      size_t take = chunk.size();
      if (r.needed > buffer_.readable()) take = std::min(take, r.needed - buffer_.readable());
      buffer_.append(chunk.data(), take);
      chunk.remove_prefix(take);
    }
  }

  bool fail(FrameError error) {
    error.offset += offset_;
    error_ = std::move(error);
    failed_ = true;
    buffer_.clear();
    return false;
  }

  std::shared_ptr<const Codec> codec_;
  Buffer buffer_;
  size_t scanned_ = 0;
  uint64_t offset_ = 0;
  bool failed_ = false;
  FrameError error_;
};

}  // namespace netlab
