// An incremental HTTP/1.1 parser (RFC 9112) for requests or responses, pull-style as h11
// is: the caller holds the bytes received, asks for the next event, and drops the bytes that
// event consumed. Bytes may arrive in any split. Heads are bounded (count of fields, length
// of a line, size of the head) and copied once; bodies are never held: each piece is handed
// out as a view into the caller's bytes. Strict where request smuggling lives (§6.1, §6.3).
//
//   input: [ consumed ... | bytes still to parse ... ]
//   next(input) -> {kHead, consumed=head bytes}  then {kBody, body view}... then {kEnd}
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netlab/http/head.h"
#include "netlab/http/message.h"

namespace netlab::http {

struct Limits {
  size_t maxFields = 100;      // header fields, and trailer fields, per message (nginx: 100)
  size_t maxLine = 8 * 1024;   // one line; nginx large_client_header_buffers 8k
  size_t maxHead = 64 * 1024;  // the whole head, and the whole trailer section
};

/// The limits of an app's options (any struct with maxHeaders, maxHeaderLine and maxHead).
template <class Options>
Limits limitsOf(const Options& o) {
  return {static_cast<size_t>(o.maxHeaders), static_cast<size_t>(o.maxHeaderLine),
          static_cast<size_t>(o.maxHead)};
}

enum class Role : uint8_t { kRequest, kResponse };

struct Event {
  enum Type : uint8_t {
    kNeedData,  // nothing complete yet: read more, then call again
    kHead,      // head() holds the request or response head
    kBody,      // `body` is the next piece of the body
    kEnd,       // the message is complete; trailers() holds a chunked body's trailers
    kClosed,    // no more messages: the peer closed between messages, or the last one said so
    kError,     // error() says why; every later call returns kError again
  };
  Event(Type t = kNeedData, size_t used = 0, std::string_view piece = {})
      : type(t), consumed(used), body(piece) {}
  Type type;
  size_t consumed;  // bytes to drop from the front of the input before the next call
  std::string_view body;
};

class Parser {
 public:
  explicit Parser(Role role, Limits limits = {});

  /// The next event from `input`: every byte received and not yet consumed, in order. A
  /// kBody view points into `input`; use it before dropping `consumed` bytes. Every event
  /// may have consumed bytes, kNeedData included (framing such as a chunk-size line).
  Event next(std::string_view input);
  /// The peer has closed its side: nothing will follow `input`. The same as next(), except
  /// that a body delimited by close then ends, and a message cut short is an error.
  Event finish(std::string_view input);

  const Head& head() const { return head_; }
  const std::vector<Field>& trailers() const { return trailers_; }
  const ParseError& error() const { return error_; }
  /// Back to the start of a stream, as a new parser, keeping the memory already allocated.
  void reset();
  /// Response role: the method of each request sent, in order, so that a response to HEAD is
  /// read without a body. Unqueued responses are taken as answers to other methods.
  void expectResponseTo(std::string_view method);
  /// Body bytes of a Content-Length message not yet handed out.
  int64_t bodyRemaining() const { return remaining_; }
  /// No more messages will be parsed (closed or failed).
  bool done() const { return state_ == State::kClosed || state_ == State::kError; }

 private:
  enum class State : uint8_t {
    kHead,
    kLength,
    kChunkSize,
    kChunkData,
    kChunkEnd,
    kTrailers,
    kUntilClose,
    kEnd,
    kClosed,
    kError,
  };

  Event step(std::string_view input);
  Event readHead(std::string_view input);
  Event readBody(std::string_view input);
  Event readChunkSize(std::string_view input);
  Event readChunkEnd(std::string_view input);
  Event readTrailers(std::string_view input);
  Event endMessage();
  /// Offset just past the empty line that ends a head or trailer section, or 0 while it has
  /// not arrived (a limit exceeded sets error_).
  size_t findEmptyLine(std::string_view input, bool startLine);
  Event fail(ParseError error);
  Event cutShort();
  bool takeToHead();
  int errorStatus(int requestStatus) const { return role_ == Role::kRequest ? requestStatus : 502; }

  // What every message reads first, then what only chunked bodies and responses use: a
  // server holds a parser per connection, and at hundreds of them each line is a likely miss.
  Role role_;
  State state_ = State::kHead;
  bool eof_ = false;
  Limits limits_;
  Head head_;
  std::string raw_;  // the head's bytes, which head_'s views point into
  // Head scanning resumes where it stopped, so a head dripped a byte at a time costs O(n).
  size_t scan_ = 0, lineStart_ = 0, start_ = 0, lines_ = 0;
  int64_t remaining_ = 0;
  ParseError error_;
  std::string trailerRaw_;
  std::vector<Field> trailers_;
  // Response role: whether each awaited response answers HEAD, the oldest at toHeadFront_.
  // Not a deque: an empty one allocates over 500 bytes, which a request parser never uses.
  std::vector<bool> toHead_;
  size_t toHeadFront_ = 0;
};

}  // namespace netlab::http
