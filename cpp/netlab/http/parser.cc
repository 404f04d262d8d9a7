#include "netlab/http/parser.h"

#include <algorithm>
#include <cstring>

#include "netlab/http/chars.h"

namespace netlab::http {
namespace {

constexpr int64_t kMaxChunkSize = int64_t{1} << 60;
constexpr size_t kKeepCapacity = 16 * 1024;  // head bytes a connection keeps allocated

size_t findByte(std::string_view s, char c, size_t from, size_t limit) {
  size_t end = std::min(s.size(), limit);
  if (from >= end) return std::string_view::npos;
  const void* p = std::memchr(s.data() + from, c, end - from);
  return p ? static_cast<size_t>(static_cast<const char*>(p) - s.data()) : std::string_view::npos;
}

}  // namespace

Parser::Parser(Role role, Limits limits) : role_(role), limits_(limits) {
  head_.isRequest = role == Role::kRequest;
}

void Parser::reset() {
  state_ = State::kHead;
  eof_ = false;
  toHead_.clear();
  toHeadFront_ = 0;
  trailers_.clear();
  scan_ = lineStart_ = start_ = lines_ = 0;
  remaining_ = 0;
  error_ = {};
}

void Parser::expectResponseTo(std::string_view method) {
  toHead_.push_back(equalsIgnoreCase(method, "HEAD"));
}

// The oldest awaited response's answer; false when none was announced. The queue empties as
// responses arrive, so it is cleared then, or compacted once the answered part is the larger.
bool Parser::takeToHead() {
  if (toHeadFront_ == toHead_.size()) return false;
  bool toHead = toHead_[toHeadFront_++];
  if (toHeadFront_ == toHead_.size()) {
    toHead_.clear();
    toHeadFront_ = 0;
  } else if (toHeadFront_ >= 64 && toHeadFront_ * 2 >= toHead_.size()) {
    toHead_.erase(toHead_.begin(), toHead_.begin() + static_cast<std::ptrdiff_t>(toHeadFront_));
    toHeadFront_ = 0;
  }
  return toHead;
}

Event Parser::finish(std::string_view input) {
  eof_ = true;
  return next(input);
}

// Steps that only move past framing (a chunk-size line, the CRLF after chunk data) return
// kNeedData with bytes consumed; they are folded in here so the caller sees real events only.
Event Parser::next(std::string_view input) {
  size_t used = 0;
  for (;;) {
    Event e = step(input.substr(used));
    if (e.type == Event::kNeedData && e.consumed > 0) {
      used += e.consumed;
      continue;
    }
    e.consumed += used;
    return e;
  }
}

Event Parser::step(std::string_view input) {
  switch (state_) {
    case State::kHead:
      return readHead(input);
    case State::kLength:
    case State::kChunkData:
    case State::kUntilClose:
      return readBody(input);
    case State::kChunkSize:
      return readChunkSize(input);
    case State::kChunkEnd:
      return readChunkEnd(input);
    case State::kTrailers:
      return readTrailers(input);
    case State::kEnd:
      return endMessage();
    case State::kClosed:
      return {Event::kClosed};
    case State::kError:
      break;
  }
  return {Event::kError};
}

Event Parser::fail(ParseError error) {
  error_ = error;
  state_ = State::kError;
  return {Event::kError};
}

Event Parser::cutShort() {
  return fail({errorStatus(400), "connection closed before the message was complete"});
}

size_t Parser::findEmptyLine(std::string_view input, bool startLine) {
  for (;;) {
    size_t lf = findByte(input, '\n', scan_, input.size());
    if (lf == std::string_view::npos) {
      scan_ = input.size();
      size_t partial = input.size() - lineStart_;
      bool firstLine = startLine && lines_ == 0;
      if (partial > limits_.maxLine + 1) {
        fail(firstLine && role_ == Role::kRequest
                 ? ParseError{414, "request line too long"}
                 : ParseError{errorStatus(431), "header line too long"});
      } else if (input.size() - start_ > limits_.maxHead) {
        fail({errorStatus(431), "header section too large"});
      }
      return 0;
    }
    size_t length = lf - lineStart_;
    bool crlf = length > 0 && input[lf - 1] == '\r';
    if (crlf) --length;
    scan_ = lf + 1;
    if (length == 0 && startLine && lines_ == 0) {
      // Empty lines before a start line are skipped (RFC 9112 §2.2), but only a few.
      start_ = lineStart_ = scan_;
      if (start_ > limits_.maxLine) fail({errorStatus(400), "too many empty lines"});
      if (state_ == State::kError) return 0;
      continue;
    }
    // The checks run in the order the partial-line path above meets them (the line's
    // length, then the section's size), so the error does not depend on how the bytes were
    // split.
    bool firstLine = startLine && lines_ == 0;
    if (length > limits_.maxLine) {
      fail(firstLine && role_ == Role::kRequest
               ? ParseError{414, "request line too long"}
               : ParseError{errorStatus(431), "header line too long"});
      return 0;
    }
    if (scan_ - start_ > limits_.maxHead) {
      fail({errorStatus(431), "header section too large"});
      return 0;
    }
    // A trailer section takes CRLF only, as chunk framing does: a bare LF there would let a
    // front end that splits on CRLF alone see a different message end (smuggling).
    if (!startLine && !crlf) {
      fail({errorStatus(400), "trailer line not ended by CRLF"});
      return 0;
    }
    if (length == 0) return scan_;
    ++lines_;
    if (lines_ - (startLine ? 1 : 0) > limits_.maxFields) {
      fail({errorStatus(431), "too many header fields"});
      return 0;
    }
    lineStart_ = scan_;
  }
}

Event Parser::readHead(std::string_view input) {
  size_t end = findEmptyLine(input, /*startLine=*/true);
  if (state_ == State::kError) return {Event::kError};
  if (end == 0) {
    if (!eof_) return {Event::kNeedData};
    if (input.size() > start_) return cutShort();
    state_ = State::kClosed;
    return {Event::kClosed, input.size()};
  }
  size_t headBytes = lineStart_ - start_;
  // One large head must not pin its memory for the connection's life.
  if (raw_.capacity() > kKeepCapacity && headBytes <= kKeepCapacity) std::string().swap(raw_);
  raw_.assign(input.data() + start_, headBytes);
  scan_ = lineStart_ = start_ = lines_ = 0;
  trailers_.clear();
  ParseError e = parseHead(raw_, role_ == Role::kRequest, head_);
  bool toHead = false;
  if (e.ok() && !head_.informational()) toHead = takeToHead();
  if (e.ok()) e = decideFraming(head_, toHead);
  if (!e.ok()) return fail(e);
  remaining_ = head_.framing == Framing::kLength ? head_.contentLength : 0;
  switch (head_.framing) {
    case Framing::kNone:
      state_ = State::kEnd;
      break;
    case Framing::kLength:
      state_ = State::kLength;
      break;
    case Framing::kChunked:
      state_ = State::kChunkSize;
      break;
    case Framing::kUntilClose:
      state_ = State::kUntilClose;
      break;
  }
  return {Event::kHead, end};
}

Event Parser::readBody(std::string_view input) {
  if (input.empty()) {
    if (!eof_) return {Event::kNeedData};
    if (state_ != State::kUntilClose) return cutShort();
    state_ = State::kEnd;
    return endMessage();
  }
  if (state_ == State::kUntilClose) return {Event::kBody, input.size(), input};
  size_t n = static_cast<size_t>(std::min<int64_t>(remaining_, static_cast<int64_t>(input.size())));
  remaining_ -= static_cast<int64_t>(n);
  if (remaining_ == 0) state_ = state_ == State::kLength ? State::kEnd : State::kChunkEnd;
  return {Event::kBody, n, input.substr(0, n)};
}

// chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1): hex digits only, no sign, no "0x", no
// whitespace before the size; the line must end in CRLF (a bare LF here is a smuggling seam).
Event Parser::readChunkSize(std::string_view input) {
  size_t lf = findByte(input, '\n', 0, limits_.maxLine + 2);
  if (lf == std::string_view::npos) {
    if (input.size() > limits_.maxLine + 1)
      return fail({errorStatus(400), "chunk size line too long"});
    return eof_ ? cutShort() : Event{Event::kNeedData};
  }
  if (lf == 0 || input[lf - 1] != '\r')
    return fail({errorStatus(400), "chunk size line not ended by CRLF"});
  std::string_view line = input.substr(0, lf - 1);
  size_t digits = 0;
  int64_t size = 0;
  for (; digits < line.size() && hexValue(line[digits]) >= 0; ++digits) {
    if (size > kMaxChunkSize / 16) return fail({errorStatus(400), "chunk size too large"});
    size = size * 16 + hexValue(line[digits]);
  }
  if (digits == 0) return fail({errorStatus(400), "invalid chunk size"});
  // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): only its characters are checked,
  // since nothing here acts on extensions.
  std::string_view ext = line.substr(digits);
  size_t semicolon = ext.find_first_not_of(" \t");
  if (semicolon != std::string_view::npos && ext[semicolon] != ';') {
    return fail({errorStatus(400), "invalid chunk size"});
  }
  if (!ext.empty() && semicolon == std::string_view::npos) {
    return fail({errorStatus(400), "invalid chunk size"});  // whitespace without an extension
  }
  for (char c : ext) {
    if (!isFieldChar(c)) return fail({errorStatus(400), "invalid chunk extension"});
  }
  remaining_ = size;
  state_ = size == 0 ? State::kTrailers : State::kChunkData;
  return {Event::kNeedData, lf + 1};
}

Event Parser::readChunkEnd(std::string_view input) {
  bool wrong = (!input.empty() && input[0] != '\r') || (input.size() >= 2 && input[1] != '\n');
  if (wrong) return fail({errorStatus(400), "chunk data not followed by CRLF"});
  if (input.size() < 2) return eof_ ? cutShort() : Event{Event::kNeedData};
  state_ = State::kChunkSize;
  return {Event::kNeedData, 2};
}

Event Parser::readTrailers(std::string_view input) {
  size_t end = findEmptyLine(input, /*startLine=*/false);
  if (state_ == State::kError) return {Event::kError};
  if (end == 0) return eof_ ? cutShort() : Event{Event::kNeedData};
  if (trailerRaw_.capacity() > kKeepCapacity && lineStart_ <= kKeepCapacity) {
    std::string().swap(trailerRaw_);
  }
  trailerRaw_.assign(input.data(), lineStart_);
  scan_ = lineStart_ = start_ = lines_ = 0;
  ParseError e = parseFields(trailerRaw_, trailers_);
  if (!e.ok()) return fail({errorStatus(e.status), e.reason});
  state_ = State::kEnd;
  Event done = endMessage();
  done.consumed = end;
  return done;
}

// A message ends; the connection carries another unless the message said otherwise. A 1xx
// response other than 101 is followed by the real response; after 101 the bytes are no
// longer HTTP.
Event Parser::endMessage() {
  bool another = head_.keepAlive;
  if (head_.informational()) another = head_.status != 101;
  state_ = another ? State::kHead : State::kClosed;
  return {Event::kEnd};
}

}  // namespace netlab::http
