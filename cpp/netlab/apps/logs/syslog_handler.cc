#include "netlab/apps/logs/syslog_handler.h"

#include <algorithm>

#include "netlab/apps/logs/syslog.h"

namespace netlab::logs {

size_t SyslogHandler::onData(Conn& conn, Buffer& input) {
  size_t handled = 0;
  while (!holds_.any() && conn.budgetLeft()) {
    if (skip_ > 0) {  // the tail of a truncated octet-counted frame
      size_t n = std::min(skip_, input.readable());
      input.consume(n);
      skip_ -= n;
      if (skip_ > 0) return handled;
    }
    if (!nextFrame(conn, input)) return handled;
    ++handled;
  }
  return handled;
}

bool SyslogHandler::nextFrame(Conn& conn, Buffer& input) {
  size_t max = static_cast<size_t>(protocol_.options().maxMessage);
  std::string_view view = input.view();
  if (skippingLine_) {
    size_t nl = view.find('\n');
    input.consume(nl == std::string_view::npos ? view.size() : nl + 1);
    if (nl == std::string_view::npos) return false;
    skippingLine_ = false;
    view = input.view();
  }
  while (!view.empty() && (view.front() == '\n' || view.front() == '\r')) {  // stray ends
    input.consume(1);
    view = input.view();
  }
  if (view.empty()) return false;
  if (view.front() >= '1' && view.front() <= '9') {  // octet counting: MSG-LEN SP MSG
    size_t length = 0, i = 0;
    for (; i < view.size() && i <= kMaxLengthDigits && view[i] >= '0' && view[i] <= '9'; ++i)
      length = length * 10 + static_cast<size_t>(view[i] - '0');
    if (i == view.size()) return false;  // the length's end has not come yet
    if (view[i] == ' ' && i <= kMaxLengthDigits) {
      // A truncated frame's tail is skipped; a length far past any sane frame would make
      // this connection swallow gigabytes of what follows unseen: a protocol error instead.
      if (length > std::max(kMaxFrameBytes, kMaxSkipFactor * max)) {
        protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
        conn.fail("syslog frame length " + std::to_string(length) + " is far beyond max_message");
        return false;
      }
      size_t body = std::min(length, max);
      if (view.size() < i + 1 + body) return false;
      if (!protocol_.pace(conn, holds_)) return false;  // the frame waits
      message(conn, view.substr(i + 1, body), length > max);
      input.consume(i + 1 + body);
      skip_ = length - body;
      return true;
    }
    // Not a length after all: read as an LF-framed message (kept, flagged if malformed).
  }
  size_t nl = view.find('\n');
  if (nl == std::string_view::npos) {
    if (view.size() <= max) return false;
    if (!protocol_.pace(conn, holds_)) return false;
    message(conn, view.substr(0, max), true);
    input.consume(view.size());
    skippingLine_ = true;
    return true;
  }
  if (!protocol_.pace(conn, holds_)) return false;
  std::string_view text = view.substr(0, nl);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  bool truncated = text.size() > max;
  message(conn, truncated ? text.substr(0, max) : text, truncated);
  input.consume(nl + 1);
  return true;
}

void SyslogHandler::message(Conn& conn, std::string_view text, bool truncated) {
  LogCounters& c = protocol_.counters();
  LogRecord r;
  r.receivedMs = wallMs();
  if (!parseSyslog(text, r.receivedMs, r)) c.parseErrors.fetch_add(1, std::memory_order_relaxed);
  if (truncated) {
    r.flags |= kTruncated;
    c.truncated.fetch_add(1, std::memory_order_relaxed);
  }
  c.received.fetch_add(1, std::memory_order_relaxed);
  protocol_.store().append(std::move(r), nullptr);
  pauseWhileBehind(conn, protocol_.store(), holds_);
}

}  // namespace netlab::logs
