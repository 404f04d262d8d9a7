// The guide's ingest protocols, chosen by a connection's first byte:
// - text, a line each:
//   LOG|<level>|<timestamp>|<message>   -> OK|<id>, or ERROR|<reason>
//   LOG:<timestamp>:<level>:<message>   -> ACK (the guide's older form)
//   CLIENT|<id>                         -> OK|client: names the sender for LOGK's keys
//   LOGK|<seq>|<level>|<timestamp>|<host>|<app>|<message>  -> OK|<id>: a log keyed by
//     (client id, seq), stored once however often it is resent; the message escaped
//     (\n, \r, \\), so it may span lines
// - binary (first byte 1, the version): HeaderCodec frames, version u8, command u8, length
//   u16, sequence u32, network order. LOG (1): level u8, timestamp u32 (Unix seconds),
//   message length u16, message; answered LOG with the same sequence and status u8 0 and the
//   id u64, or status 1 and the reason. CLIENT (5), the client id as payload, answered with
//   status 0: from then on each LOG's sequence number is its idempotency key. PING (3) is answered
//   PING; STATS (4) with "name=value" lines; QUERY (2), whose payload is a query as after "QUERY|",
//   with one frame per row and an empty frame to end; one query at a time, as on the query port.
// With ack="durable" a LOG is answered once the batch holding it is committed; answers keep
// the order of the lines. A line longer than max_message is stored truncated and flagged,
// never dropped. When the writer falls behind, the connection stops being read.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "netlab/apps/logs/log_server.h"
#include "netlab/codec/codec.h"

namespace netlab::logs {

class IngestHandler final : public Handler {
 public:
  /// Answers held back behind a commit or a query's rows; past this many the connection is
  /// not read until half of them have gone out, so a client that pipelines without waiting
  /// for its answers holds a bounded amount of memory (TCP pushes back instead).
  static constexpr size_t kMaxWaitingReplies = 4096;
  static constexpr uint8_t kBinaryVersion = 1;
  static constexpr uint8_t kCommandLog = 1, kCommandQuery = 2, kCommandPing = 3, kCommandStats = 4,
                           kCommandClient = 5;
  static constexpr uint8_t kStatusOk = 0, kStatusError = 1;

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
    int64_t sequence = -1;  // a binary LOG's sequence number (its failure is a frame too)
  };
  size_t textData(Conn& conn, Buffer& input);
  size_t binaryData(Conn& conn, Buffer& input);
  void frame(Conn& conn, const FrameView& f);
  void binaryQuery(Conn& conn, const FrameView& f);
  std::string encode(uint8_t command, uint32_t sequence, std::string_view payload) const;
  void line(Conn& conn, std::string_view text, bool truncated);
  void logLine(Conn& conn, std::string_view rest, bool truncated);
  void legacyLine(Conn& conn, std::string_view rest, bool truncated);
  void keyedLine(Conn& conn, std::string_view rest, bool truncated);
  /// Stores `record`; its answer is made from its id.
  void store(Conn& conn, LogRecord record, const std::function<std::string(int64_t)>& answer,
             int64_t sequence = -1);
  void answer(Conn& conn, std::string text);
  void flushReplies(Conn& conn);
  /// After each message: stops reading while a query runs or too many answers wait.
  void holdForReplies(Conn& conn);

  LogIngestProtocol& protocol_;
  bool durable_;
  std::shared_ptr<AckSink> sink_;
  std::deque<Reply> replies_;  // durable: answers in line order, some waiting for a commit
  bool skipping_ = false;      // the rest of a line that was too long
  enum class Format { kUnknown, kText, kBinary } format_ = Format::kUnknown;
  std::shared_ptr<const Codec> codec_;  // binary connections'
  int64_t nextToken_ = -1;              // placeholders (negative ids) for query answers
  ReadHolds holds_;
  bool querying_ = false;  // a binary query runs: the next frame waits for it
  bool authed_;
  std::string client_;     // CLIENT's id: with a sequence number, the idempotency key
  bool peerDone_ = false;  // the client half-closed: close once the last answer is out
};

}  // namespace netlab::logs
