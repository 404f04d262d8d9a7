// The query port, a line each:
//   QUERY|KEYWORD|<word>     QUERY|LEVEL|<level>        (the guide's two forms)
//   QUERY|keyword=<w>|level=<l>|max_level=<l>|since=<time>|until=<time>|host=<h>|app=<a>|limit=<n>
//     (any of them, in any order: all must match)
// answered RESULT|<n>, then one id|level|timestamp|message line per log (oldest first; a
// newline or backslash in a message is written \n or \\), then END; or ERROR|<reason>.
//   TAIL|<filter>   (the same filters, or none: TAIL|)
// answered TAILING, then every matching log as it is committed, in the same lines, until the
// client closes; one that falls max_tail_queue bytes behind is dropped.
// Queries run on the store's query threads; the connection is not read meanwhile.
#pragma once

#include <string>

#include "netlab/apps/logs/log_server.h"

namespace netlab::logs {

class QueryHandler final : public Handler {
 public:
  static constexpr size_t kMaxLine = 4096;
  static constexpr size_t kMaxResultBytes = 16 << 20;  // one answer, whatever max_results says
  explicit QueryHandler(LogQueryProtocol& protocol)
      : protocol_(protocol), authed_(protocol.token().empty()) {}
  size_t onData(Conn& conn, Buffer& input) override;
  void onClose(Conn& conn, const CloseReason& reason) override;
  bool onEof(Conn&) override {
    peerDone_ = true;
    return running_;  // the answer under way is still sent
  }

 private:
  void command(Conn& conn, std::string_view line);
  void run(Conn& conn, Filter filter);

  LogQueryProtocol& protocol_;
  bool running_ = false, peerDone_ = false;
  uint64_t tail_ = 0;  // the store's subscription while tailing
  bool authed_;
};

/// Parses what follows "QUERY|": a Filter, or the reason it cannot be one.
std::string parseFilter(std::string_view spec, size_t maxResults, Filter& out);
/// One result line: id|LEVEL|timestamp|message, the message escaped.
void appendRow(std::string& out, const LogRecord& r);

}  // namespace netlab::logs
