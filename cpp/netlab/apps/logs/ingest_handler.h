// The guide's text ingest protocol, a line each:
//   LOG|<level>|<timestamp>|<message>   -> OK|<id>, or ERROR|<reason>
//   LOG:<timestamp>:<level>:<message>   -> ACK (the guide's older form)
// With ack="durable" a LOG is answered once the batch holding it is committed; answers keep
// the order of the lines. A line longer than max_message is stored truncated and flagged,
// never dropped. When the writer falls behind, the connection stops being read.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "netlab/apps/logs/log_server.h"

namespace netlab::logs {

class IngestHandler final : public Handler {
 public:
  explicit IngestHandler(LogIngestProtocol& protocol);
  ~IngestHandler() override;

  void onOpen(Conn& conn) override;
  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onClose(Conn& conn, const CloseReason& reason) override;
  /// On the connection's thread: these ids are on disk (or, !ok, could not be stored).
  void onCommitted(Conn& conn, const std::vector<int64_t>& ids, bool ok);

 private:
  struct Reply {
    int64_t id = 0;  // waiting for this log's commit; 0: ready
    std::string text;
  };
  void line(Conn& conn, std::string_view text, bool truncated);
  void logLine(Conn& conn, std::string_view rest, bool truncated);
  void legacyLine(Conn& conn, std::string_view rest, bool truncated);
  void store(Conn& conn, LogRecord record, std::string_view answer);
  void answer(Conn& conn, std::string text);
  void flushReplies(Conn& conn);
  void checkBehind(Conn& conn);

  LogIngestProtocol& protocol_;
  bool durable_;
  std::shared_ptr<AckSink> sink_;
  std::deque<Reply> replies_;  // durable: answers in line order, some waiting for a commit
  bool skipping_ = false;      // the rest of a line that was too long
  bool paused_ = false;
  bool peerDone_ = false;  // the client half-closed: close once the last answer is out
};

}  // namespace netlab::logs
