// The query port, a line each:
//   QUERY|KEYWORD|<word>     QUERY|LEVEL|<level>        (the guide's two forms)
//   QUERY|keyword=<w>|level=<l>|max_level=<l>|since=<time>|until=<time>|host=<h>|app=<a>|limit=<n>
//     (any of them, in any order: all must match)
// answered RESULT|<n>, then one id|level|timestamp|message line per log (oldest first; a
// newline or backslash in a message is written \n or \\), then END; or ERROR|<reason>.
// Queries run on the store's query threads; the connection is not read meanwhile.
#pragma once

#include <string>

#include "netlab/apps/logs/log_server.h"

namespace netlab::logs {

class QueryHandler final : public Handler {
 public:
  static constexpr size_t kMaxLine = 4096;
  explicit QueryHandler(LogQueryProtocol& protocol) : protocol_(protocol) {}
  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn&) override {
    peerDone_ = true;
    return running_;  // the answer under way is still sent
  }

 private:
  void command(Conn& conn, std::string_view line);
  void run(Conn& conn, Filter filter);

  LogQueryProtocol& protocol_;
  bool running_ = false, peerDone_ = false;
};

/// Parses what follows "QUERY|": a Filter, or the reason it cannot be one.
std::string parseFilter(std::string_view spec, size_t maxResults, Filter& out);
/// One result line: id|LEVEL|timestamp|message, the message escaped.
void appendRow(std::string& out, const LogRecord& r);

}  // namespace netlab::logs
