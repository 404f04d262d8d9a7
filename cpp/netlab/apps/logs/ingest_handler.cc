#include "netlab/apps/logs/ingest_handler.h"

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
    : protocol_(protocol), durable_(protocol.options().ack == "durable") {}

IngestHandler::~IngestHandler() = default;

void IngestHandler::onOpen(Conn& conn) {
  if (durable_) sink_ = std::make_shared<ConnSink>(conn.outlet(), this);
}

size_t IngestHandler::onData(Conn& conn, Buffer& input) {
  size_t handled = 0;
  size_t maxLine = static_cast<size_t>(protocol_.options().maxMessage) + 64;
  while (!paused_ && conn.budgetLeft()) {
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
      line(conn, view.substr(0, maxLine), true);  // kept, flagged; the rest is skipped
      input.consume(view.size());
      skipping_ = true;
      ++handled;
      continue;
    }
    std::string_view text = view.substr(0, nl);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    bool truncated = text.size() > maxLine;
    line(conn, truncated ? text.substr(0, maxLine) : text, truncated);
    input.consume(nl + 1);
    ++handled;
  }
  return handled;
}

void IngestHandler::line(Conn& conn, std::string_view text, bool truncated) {
  if (text.substr(0, 4) == "LOG|") return logLine(conn, text.substr(4), truncated);
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
  r.message = std::string(rest);  // the message may hold '|' itself
  if (truncated) r.flags |= kTruncated;
  store(conn, std::move(r), "OK|");
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
        return store(conn, std::move(r), "ACK");
      }
    }
    at = next;
  }
  protocol_.counters().parseErrors.fetch_add(1, std::memory_order_relaxed);
  answer(conn, "ERROR|bad LOG: line\n");
}

void IngestHandler::store(Conn& conn, LogRecord record, std::string_view answerPrefix) {
  LogCounters& c = protocol_.counters();
  c.received.fetch_add(1, std::memory_order_relaxed);
  if (record.flags & kTruncated) c.truncated.fetch_add(1, std::memory_order_relaxed);
  record.receivedMs = wallMs();
  bool ack = answerPrefix == "ACK";
  int64_t id = protocol_.store().append(std::move(record), durable_ ? sink_ : nullptr);
  std::string text = ack ? "ACK\n" : "OK|" + std::to_string(id) + "\n";
  if (durable_) {
    replies_.push_back({id, std::move(text)});
  } else {
    c.acknowledged.fetch_add(1, std::memory_order_relaxed);
    conn.send(text);
  }
  checkBehind(conn);
}

void IngestHandler::answer(Conn& conn, std::string text) {
  if (!durable_ || replies_.empty()) return conn.send(text);
  replies_.push_back({0, std::move(text)});  // after the answers still waiting
}

void IngestHandler::onCommitted(Conn& conn, const std::vector<int64_t>& ids, bool ok) {
  size_t at = 0;  // this connection's logs commit in the order they were appended
  for (Reply& r : replies_) {
    if (at == ids.size()) break;
    if (r.id != ids[at]) continue;
    r.id = 0;
    if (!ok) r.text = "ERROR|store failed\n";
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
}

// A client may send its logs and half-close (nc -N): durable answers still to come are sent.
bool IngestHandler::onEof(Conn&) {
  peerDone_ = true;
  return !replies_.empty();
}

// The writer is far behind: stop reading until it catches up, so memory stays bounded.
void IngestHandler::checkBehind(Conn& conn) {
  if (paused_) return;
  auto outlet = conn.outlet();
  if (!protocol_.store().behind([outlet, this] {
        outlet->post([this](Conn& c) {
          paused_ = false;
          c.resumeReading();
        });
      }))
    return;
  paused_ = true;
  conn.pauseReading();
}

void IngestHandler::onClose(Conn&, const CloseReason&) { sink_.reset(); }

}  // namespace netlab::logs
