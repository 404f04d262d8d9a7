// Delimited text lines (ping-pong, chat, syslog's LF framing, IRC).
#include <algorithm>
#include <cstring>

#include "netlab/codec/codec.h"

namespace netlab {
namespace {

class LineCodec final : public Codec {
 public:
  LineCodec(std::string delimiter, size_t maxLength, bool stripCr)
      : delim_(std::move(delimiter)), maxLength_(maxLength), stripCr_(stripCr && delim_ == "\n") {}

  std::string_view name() const override { return "line"; }

  ParseResult parse(std::string_view data, size_t from, FrameView& frame) const override {
    ParseResult r;
    size_t end = find(data, from);
    if (end == std::string_view::npos) {
      // Room for a maximal line, its optional '\r' and all but the last delimiter byte.
      if (data.size() > maxLength_ + (stripCr_ ? 1 : 0) + delim_.size() - 1) r = tooLong();
      return r;
    }
    std::string_view line = data.substr(0, end);
    if (stripCr_ && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > maxLength_) return tooLong();
    frame.payload = line;
    r.status = ParseResult::kFrame;
    r.consumed = end + delim_.size();
    return r;
  }

  bool encode(const FrameView& frame, std::string& out, FrameError& error) const override {
    if (frame.payload.size() > maxLength_) {
      error = {FrameErrorKind::kTooLarge, 0,
               "line of " + std::to_string(frame.payload.size()) + " bytes exceeds max_length " +
                   std::to_string(maxLength_)};
      return false;
    }
    if (frame.payload.find(delim_) != std::string_view::npos) {
      error = {FrameErrorKind::kMalformed, 0, "payload contains the delimiter"};
      return false;
    }
    if (stripCr_ && !frame.payload.empty() && frame.payload.back() == '\r') {
      // It would not survive the trip: the decoder strips one CR before the LF.
      error = {FrameErrorKind::kMalformed, 0, "payload ends with CR, which strip_cr removes"};
      return false;
    }
    out.append(frame.payload);
    out.append(delim_);
    return true;
  }

  size_t maxWireFrame() const override { return maxLength_ + 1 + delim_.size(); }

  std::string describe() const override {
    std::string escaped;
    for (unsigned char c : delim_) {
      static constexpr char kHex[] = "0123456789abcdef";
      if (c == '\n') escaped += "\\n";
      else if (c == '\r') escaped += "\\r";
      else if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') escaped += static_cast<char>(c);
      else escaped += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
    }
    return "LineCodec(delimiter=b'" + escaped + "', max_length=" + std::to_string(maxLength_) +
           ", strip_cr=" + (stripCr_ ? "True" : "False") + ")";
  }

 private:
  // A delimiter may straddle the end of what was scanned before: back up by its length - 1.
  size_t find(std::string_view data, size_t from) const {
    size_t start = from >= delim_.size() - 1 ? from - (delim_.size() - 1) : 0;
    if (start >= data.size()) return std::string_view::npos;
    if (delim_.size() == 1) {
      const void* hit = std::memchr(data.data() + start, delim_[0], data.size() - start);
      return hit ? static_cast<const char*>(hit) - data.data() : std::string_view::npos;
    }
    return data.find(delim_, start);
  }

  ParseResult tooLong() const {
    ParseResult r;
    r.status = ParseResult::kError;
    r.error = {FrameErrorKind::kTooLarge, 0,
               "line longer than max_length " + std::to_string(maxLength_) + " bytes"};
    return r;
  }

  std::string delim_;
  size_t maxLength_;
  bool stripCr_;
};

}  // namespace

std::shared_ptr<const Codec> makeLineCodec(std::string delimiter, size_t maxLength, bool stripCr,
                                           Error* error) {
  if (delimiter.empty() || delimiter.size() > 16) {
    *error = {EINVAL, "delimiter must be 1 to 16 bytes"};
    return nullptr;
  }
  if (maxLength == 0) {
    *error = {EINVAL, "max_length must be at least 1"};
    return nullptr;
  }
  return std::make_shared<LineCodec>(std::move(delimiter), maxLength, stripCr);
}

}  // namespace netlab
