#include "netlab/apps/logs/ingest_handler.h"

#include "netlab/apps/logs/query_handler.h"

namespace netlab::logs {
namespace {

// Hands a batch's commit back to the connection's thread.
class ConnSink final : public AckSink {
 public:
  ConnSink(std::shared_ptr<Outlet> outlet, IngestHandler* handler)
      : outlet_(std::move(outlet)), handler_(handler) {}
  void committed(std::vector<int64_t> ids, bool ok) override {
    // post() runs the task only while the connection (and so its handler) is open.
    outlet_->post([handler = handler_, ids = std::move(ids), ok](Conn& conn) {
      handler->onCommitted(conn, ids, ok);
    });
  }

 private:
  std::shared_ptr<Outlet> outlet_;
  IngestHandler* handler_;
};

// The next '|'-separated field of `rest`, removed from it.
std::string_view nextField(std::string_view& rest) {
  size_t bar = rest.find('|');
  std::string_view field = rest.substr(0, bar);
  rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
  return field;
}

}  // namespace

IngestHandler::IngestHandler(LogIngestProtocol& protocol)
    : protocol_(protocol),
      durable_(protocol.options().ack == "durable"),
      authed_(protocol.token().empty()) {}

IngestHandler::~IngestHandler() = default;

void IngestHandler::onOpen(Conn& conn) {
  if (durable_) sink_ = std::make_shared<ConnSink>(conn.outlet(), this);
}

size_t IngestHandler::onData(Conn& conn, Buffer& input) {
  if (format_ == Format::kUnknown && !input.empty()) {
    format_ =
        static_cast<uint8_t>(input.view()[0]) == kBinaryVersion ? Format::kBinary : Format::kText;
  }
  return format_ == Format::kBinary ? binaryData(conn, input) : textData(conn, input);
}

size_t IngestHandler::textData(Conn& conn, Buffer& input) {
  size_t handled = 0;
  size_t maxLine = static_cast<size_t>(protocol_.options().maxMessage) + 64;
  while (!holds_.any() && conn.budgetLeft()) {
    std::string_view view = input.view();
    size_t nl = view.find('\n');
    if (skipping_) {  // the tail of a truncated line: dropped up to its end
      input.consume(nl == std::string_view::npos ? view.size() : nl + 1);
      if (nl == std::string_view::npos) return handled;
      skipping_ = false;
      continue;
    }
    if (nl == std::string_view::npos) {
      if (view.size() <= maxLine) return handled;
      if (!protocol_.pace(conn, holds_)) return handled;
      line(conn, view.substr(0, maxLine), true);  // kept, flagged; the rest is skipped
      input.consume(view.size());
      skipping_ = true;
      ++handled;
      holdForReplies(conn);
      continue;
    }
    if (!protocol_.pace(conn, holds_)) return handled;  // the line waits
    std::string_view text = view.substr(0, nl);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    bool truncated = text.size() > maxLine;
    line(conn, truncated ? text.substr(0, maxLine) : text, truncated);
    input.consume(nl + 1);
    ++handled;
    holdForReplies(conn);
  }
  return handled;
}

void IngestHandler::line(Conn& conn, std::string_view text, bool truncated) {
  if (!authed_) {  // the port wants AUTH|<token> before anything else
    if (text.substr(0, 5) == "AUTH|" && text.substr(5) == protocol_.token()) {
      authed_ = true;
      return answer(conn, "OK|auth\n");
    }
    protocol_.counters().badTokens.fetch_add(1, std::memory_order_relaxed);
    answer(conn,
           text.substr(0, 5) == "AUTH|" ? "ERROR|bad token\n" : "ERROR|authentication required\n");
    return conn.fail("not authenticated");
  }
  if (text.substr(0, 4) == "LOG|") return logLine(conn, text.substr(4), truncated);
  if (text.substr(0, 5) == "LOGK|") return keyedLine(conn, text.substr(5), truncated);
  if (text.substr(0, 7) == "CLIENT|") {
    if (!validClientId(text.substr(7))) {
      protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
      return answer(conn, "ERROR|bad client id\n");
    }
    client_ = std::string(text.substr(7));
    return answer(conn, "OK|client\n");
  }
  if (text.substr(0, 4) == "LOG:") return legacyLine(conn, text.substr(4), truncated);
  if (text.empty()) return;
  protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
  answer(conn, "ERROR|unknown command\n");
}

void IngestHandler::logLine(Conn& conn, std::string_view rest, bool truncated) {
  std::string_view levelText = nextField(rest);
  std::string_view timeText = nextField(rest);
  auto level = parseLevel(levelText);
  auto time = timeText.empty() ? std::optional<int64_t>(wallMs()) : parseTimestamp(timeText);
  if (!level || !time) {
    protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
    return answer(conn, !level ? "ERROR|bad level\n" : "ERROR|bad timestamp\n");
  }
  LogRecord r;
  r.level = *level;
  r.timeMs = *time;
  size_t max = static_cast<size_t>(protocol_.options().maxMessage);
  truncated = truncated || rest.size() > max;    // the line's bound allowed for its fields
  r.message = std::string(rest.substr(0, max));  // the message may hold '|' itself
  if (truncated) r.flags |= kTruncated;
  store(conn, std::move(r), [](int64_t id) { return "OK|" + std::to_string(id) + "\n"; });
}

// LOGK|<seq>|<level>|<timestamp>|<host>|<app>|<message>: a log with its idempotency key
// (CLIENT's id and this sequence number), so a resent one is stored once; the message is
// escaped (\n, \r, \\) so that one line can carry any message.
void IngestHandler::keyedLine(Conn& conn, std::string_view rest, bool truncated) {
  std::string_view seqText = nextField(rest);
  std::string_view levelText = nextField(rest);
  std::string_view timeText = nextField(rest);
  std::string_view host = nextField(rest);
  std::string_view app = nextField(rest);
  auto seq = parseSequence(seqText);
  auto level = parseLevel(levelText);
  auto time = timeText.empty() ? std::optional<int64_t>(wallMs()) : parseTimestamp(timeText);
  const char* problem = client_.empty() ? "ERROR|CLIENT|<id> must come first\n"
                        : !seq          ? "ERROR|bad sequence number\n"
                        : !level        ? "ERROR|bad level\n"
                        : !time         ? "ERROR|bad timestamp\n"
                                        : nullptr;
  if (problem) {
    protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
    return answer(conn, problem);
  }
  LogRecord r;
  r.level = *level;
  r.timeMs = *time;
  r.host = std::string(host);
  r.app = std::string(app);
  r.client = client_;
  r.seq = *seq;
  r.message = unescapeMessage(rest);
  size_t max = static_cast<size_t>(protocol_.options().maxMessage);
  if (truncated || r.message.size() > max) {
    r.message.resize(std::min(r.message.size(), max));
    r.flags |= kTruncated;
  }
  store(conn, std::move(r), [](int64_t id) { return "OK|" + std::to_string(id) + "\n"; });
}

// LOG:<timestamp>:<level>:<message>. An RFC 3339 timestamp holds colons itself: the level is
// the first field after one that parses as a timestamp.
void IngestHandler::legacyLine(Conn& conn, std::string_view rest, bool truncated) {
  size_t at = rest.find(':');
  while (at != std::string_view::npos) {
    auto time = parseTimestamp(rest.substr(0, at));
    size_t next = rest.find(':', at + 1);
    if (time && next != std::string_view::npos) {
      auto level = parseLevel(rest.substr(at + 1, next - at - 1));
      if (level) {
        LogRecord r;
        r.level = *level;
        r.timeMs = *time;
        r.message = std::string(rest.substr(next + 1));
        if (truncated) r.flags |= kTruncated;
        return store(conn, std::move(r), [](int64_t) { return std::string("ACK\n"); });
      }
    }
    at = next;
  }
  protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
  answer(conn, "ERROR|bad LOG: line\n");
}

void IngestHandler::store(Conn& conn, LogRecord record,
                          const std::function<std::string(int64_t)>& answerFor, int64_t sequence) {
  LogCounters& c = protocol_.counters();
  c.received.fetch_add(1, std::memory_order_relaxed);
  if (record.flags & kTruncated) c.truncated.fetch_add(1, std::memory_order_relaxed);
  record.receivedMs = wallMs();
  int64_t id = protocol_.store().append(std::move(record), durable_ ? sink_ : nullptr);
  std::string text = answerFor(id);
  if (durable_) {
    replies_.push_back({id, std::move(text), sequence});
  } else {
    c.acknowledged.fetch_add(1, std::memory_order_relaxed);
    answer(conn, std::move(text));
  }
  pauseWhileBehind(conn, protocol_.store(), holds_);
}

// In order: behind the answers still waiting (durable acks, a binary query's rows).
void IngestHandler::answer(Conn& conn, std::string text) {
  if (replies_.empty()) return conn.send(text);
  replies_.push_back({0, std::move(text)});
}

// --- binary ------------------------------------------------------------------------------

namespace {

std::string encodeFrame(const Codec& codec, uint8_t command, uint32_t sequence,
                        std::string_view payload) {
  FrameView f;
  f.version = IngestHandler::kBinaryVersion;
  f.command = command;
  f.sequence = sequence;
  f.payload = payload;
  std::string out;
  FrameError error;
  codec.encode(f, out, error);  // payloads here are made to fit
  return out;
}

}  // namespace

std::string IngestHandler::encode(uint8_t command, uint32_t sequence,
                                  std::string_view payload) const {
  return encodeFrame(*codec_, command, sequence, payload);
}

size_t IngestHandler::binaryData(Conn& conn, Buffer& input) {
  if (!authed_) {
    protocol_.counters().badTokens.fetch_add(1, std::memory_order_relaxed);
    conn.fail("binary clients cannot authenticate while the port wants a token");
    return 0;
  }
  if (!codec_) codec_ = makeHeaderCodec(kBinaryVersion, 65535, nullptr);
  size_t handled = 0;
  while (!holds_.any() && conn.budgetLeft()) {
    FrameView f;
    ParseResult r = codec_->parse(input.view(), 0, f);
    if (r.status == ParseResult::kNeedMore) return handled;
    if (r.status == ParseResult::kError) {
      protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
      conn.fail(r.error.message);  // the byte stream cannot be resynchronised
      return handled;
    }
    if (!protocol_.pace(conn, holds_)) return handled;  // the frame waits
    frame(conn, f);
    input.consume(r.consumed);
    ++handled;
    holdForReplies(conn);
  }
  return handled;
}

void IngestHandler::frame(Conn& conn, const FrameView& f) {
  auto status = [&](uint8_t code, std::string_view text) {
    std::string payload(1, static_cast<char>(code));
    payload += text;
    return encode(f.command, f.sequence, payload);
  };
  std::string_view p = f.payload;
  switch (f.command) {
    case kCommandLog: {
      auto u = [&](size_t at, int bytes) {
        uint32_t v = 0;
        for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[at + i]);
        return v;
      };
      size_t length = p.size() >= 7 ? u(5, 2) : 0;
      if (p.size() < 7 || p.size() < 7 + length || u(0, 1) > 7) {
        protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
        return answer(conn, status(kStatusError, "malformed LOG payload"));
      }
      LogRecord r;
      r.level = static_cast<int>(u(0, 1));
      r.timeMs = int64_t{u(1, 4)} * 1000;
      r.message = std::string(p.substr(7, length));
      uint32_t sequence = f.sequence;
      if (!client_.empty()) {  // after CLIENT, the sequence number is the idempotency key
        r.client = client_;
        r.seq = sequence;
      }
      return store(
          conn, std::move(r),
          [this, sequence](int64_t id) {
            std::string payload(1, static_cast<char>(kStatusOk));
            for (int shift = 56; shift >= 0; shift -= 8)
              payload += static_cast<char>((static_cast<uint64_t>(id) >> shift) & 0xff);
            return encode(kCommandLog, sequence, payload);
          },
          sequence);
    }
    case kCommandPing:
      return answer(conn, encode(kCommandPing, f.sequence, {}));
    case kCommandClient:
      if (!validClientId(p)) {
        protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
        return answer(conn, status(kStatusError, "bad client id"));
      }
      client_ = std::string(p);
      return answer(conn, status(kStatusOk, {}));
    case kCommandStats: {
      LogSnapshot s = protocol_.snapshot();
      std::string text = "received=" + std::to_string(s.received) +
                         "\nstored=" + std::to_string(s.stored) +
                         "\nqueued=" + std::to_string(s.queued) +
                         "\nunindexed=" + std::to_string(s.unindexed) + "\n";
      return answer(conn, encode(kCommandStats, f.sequence, text));
    }
    case kCommandQuery:
      return binaryQuery(conn, f);
    default:
      protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
      return answer(conn, status(kStatusError, "unknown command"));
  }
}

// The query runs on a query thread; its frames take their place among the answers.
void IngestHandler::binaryQuery(Conn& conn, const FrameView& f) {
  Filter filter;
  std::string problem = parseFilter(f.payload, 10000, filter);
  if (!problem.empty()) {
    std::string payload(1, static_cast<char>(kStatusError));
    return answer(conn, encode(kCommandQuery, f.sequence, payload + problem));
  }
  int64_t token = nextToken_--;
  replies_.push_back({token, {}});
  querying_ = true;
  auto outlet = conn.outlet();
  uint32_t sequence = f.sequence;
  // The job may outlive this handler (the client leaves) and the port (the server stops),
  // not the store: ~LogStore runs the queued jobs before anything of it goes. It holds the
  // codec, and reaches the handler only through post().
  LogStore* store = &protocol_.store();
  std::shared_ptr<const Codec> codec = codec_;
  store->queryPool().submit([this, outlet, store, codec, filter, token, sequence] {
    auto rows = store->query(filter);
    std::string out;
    if (rows.ok()) {
      for (const LogRecord& r : rows.value()) {
        std::string row;
        appendRow(row, r);
        row.pop_back();  // the frame delimits it
        if (row.size() > 65535) row.resize(65535);
        if (out.size() + row.size() > QueryHandler::kMaxResultBytes) break;
        out += encodeFrame(*codec, kCommandQuery, sequence, row);
      }
      out += encodeFrame(*codec, kCommandQuery, sequence, {});
    } else {
      std::string payload(1, static_cast<char>(kStatusError));
      out = encodeFrame(*codec, kCommandQuery, sequence, payload + rows.error().message);
    }
    outlet->post([this, token, out = std::move(out)](Conn& c) {
      for (Reply& r : replies_) {
        if (r.id == token) {
          r.id = 0;
          r.text = out;
        }
      }
      querying_ = false;
      flushReplies(c);
    });
  });
}

void IngestHandler::onCommitted(Conn& conn, const std::vector<int64_t>& ids, bool ok) {
  size_t at = 0;  // this connection's logs commit in the order they were appended
  for (Reply& r : replies_) {
    if (at == ids.size()) break;
    if (r.id != ids[at]) continue;
    r.id = 0;
    if (!ok && r.sequence >= 0) {
      std::string payload(1, static_cast<char>(kStatusError));
      r.text = encode(kCommandLog, static_cast<uint32_t>(r.sequence), payload + "store failed");
    } else if (!ok) {
      r.text = "ERROR|store failed\n";
    }
    ++at;
  }
  if (ok) protocol_.counters().acknowledged.fetch_add(ids.size(), std::memory_order_relaxed);
  flushReplies(conn);
}

void IngestHandler::flushReplies(Conn& conn) {
  std::string out;
  while (!replies_.empty() && replies_.front().id == 0) {
    out += replies_.front().text;
    replies_.pop_front();
  }
  if (!out.empty()) conn.send(out);
  if (peerDone_ && replies_.empty()) conn.closeAfterFlush();
  if (holds_.replies && !querying_ && replies_.size() <= kMaxWaitingReplies / 2) {
    holds_.replies = false;
    if (!holds_.any()) conn.resumeReading();
  }
}

void IngestHandler::holdForReplies(Conn& conn) {
  if (holds_.replies || (!querying_ && replies_.size() < kMaxWaitingReplies)) return;
  holds_.replies = true;
  conn.pauseReading();
}

// A client may send its logs and half-close (nc -N): durable answers still to come are sent.
bool IngestHandler::onEof(Conn&) {
  peerDone_ = true;
  return !replies_.empty();
}

void IngestHandler::onClose(Conn&, const CloseReason&) { sink_.reset(); }

}  // namespace netlab::logs
