// The proxy's access log: one line an exchange in the Combined Log Format, then the upstream
// that answered, its time and the request's time (nginx's
// `$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer"
// "$http_user_agent" $upstream_addr $upstream_response_time $request_time`), so the lines
// read with every CLF tool and say where the time went. A request the client abandoned is
// 499, as nginx logs it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "netlab/http/message.h"

namespace netlab::apps::proxy {

/// What one exchange leaves for the log, gathered while it runs; everything is copied, as
/// the parser's head does not outlive the exchange. Disabled notes cost a branch.
class AccessNote {
 public:
  explicit AccessNote(bool enabled) : enabled_(enabled) {}
  bool open() const { return open_; }
  /// A new exchange: `head` null when the request failed before its head was read.
  void begin(const netlab::http::Head* head, int64_t nowNs);
  /// An attempt starts (a retry replaces the earlier one); its time runs to the line.
  void upstreamStarted(std::string_view upstream, int64_t nowNs);
  void status(int code) {
    if (open_) status_ = code;
  }
  void body(size_t bytes) {
    if (open_) bodyBytes_ += static_cast<int64_t>(bytes);
  }
  /// Appends the line (status 499 if none was sent) to `out` and closes the note; false, and
  /// nothing appended, when the note was not open.
  bool finish(std::string& out, std::string_view client, int64_t nowNs);

 private:
  void upstreamEnded(int64_t nowNs);

  bool enabled_, open_ = false;
  std::string request_, referer_, agent_, upstream_;
  int status_ = 0;
  int64_t bodyBytes_ = 0, startNs_ = 0, upstreamStartNs_ = 0, upstreamEndNs_ = 0;
};

/// `s` with '"', '\\' and bytes outside printable ASCII as \xHH (nginx's escape=default):
/// a field cannot end the quoted string or forge a line.
void appendEscaped(std::string& out, std::string_view s);
/// "[23/Nov/2026:10:00:00 +0000]" for a Unix time, in UTC.
void appendLogTime(std::string& out, int64_t unixSec);

}  // namespace netlab::apps::proxy
