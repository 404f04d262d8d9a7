#include "netlab/client/log_client.h"

namespace netlab {

const std::vector<Field<LogClientOptions>>& Fields<LogClientOptions>::fields() {
  using O = LogClientOptions;
  static const std::vector<Field<O>> table = {
      text("servers", &O::servers, "list",
           "host:port of each server, in order of preference (the next ones take over in "
           "turn); each may say its protocol: logs://, binary://, syslog://, and a token: "
           "logs://TOKEN@host:port"),
      text("protocol", &O::protocol, "name",
           "for servers that do not say: text (LogServer's LOGK lines), binary (its frames), "
           "syslog (RFC 5424, octet-counted: no acknowledgement)",
           {"text", "logs", "binary", "syslog"}),
      text("client_id", &O::clientId, "id",
           "names this client in the logs' idempotency keys, followed by a random suffix of "
           "each LogClient's own (its sequence numbers start at 1)"),
      text("host", &O::host, "name", "the logs' host field unless send() gives one"),
      text("app", &O::app, "name", "the logs' app field unless send() gives one"),
      number("window", &O::window, 1, 100000, "logs", "logs sent and not yet confirmed"),
      number("max_queue", &O::maxQueue, 1, 1e8, "logs",
             "logs held (unsent or unconfirmed) before send() waits"),
      number("timeout", &O::timeoutSec, 0.01, 3600, "seconds",
             "for connecting, and the longest a server may leave a log unanswered"),
      number("settle", &O::settleSec, 0, 60, "seconds",
             "syslog: how long after the server's TCP acknowledged a log it counts as delivered"),
  };
  return table;
}

Result<std::unique_ptr<LogClient>> LogClient::make(LogClientOptions options) {
  for (const auto& f : Fields<LogClientOptions>::fields()) {
    Status st = f.check(options);
    if (!st.ok()) return st.error();
  }
  std::string protocol = options.protocol == "text" ? "logs" : options.protocol;
  auto upstreams = parseUpstreams(options.servers, protocol);
  if (!upstreams.ok()) return upstreams.error();
  // Sequence numbers start at 1 in every LogClient: a fresh suffix keeps a restarted client's
  // keys from colliding with those its previous run stored (which would be taken as resends).
  options.clientId =
      (options.clientId.empty() ? "c" : options.clientId) + "-" + logs::randomHex64();
  if (!logs::validClientId(options.clientId))
    return Error{EINVAL, "client_id: up to 111 printable characters, no space or '|'"};
  std::unique_ptr<LogClient> c(new LogClient(std::move(options)));
  LogSenderOptions so;
  so.upstreams = std::move(upstreams.value());
  so.clientId = c->options_.clientId;
  so.window = static_cast<size_t>(c->options_.window);
  so.timeoutSec = c->options_.timeoutSec;
  so.settleSec = c->options_.settleSec;
  LogClient* self = c.get();
  auto thread = LogSenderThread::start(
      std::move(so), [self](int64_t after, size_t limit) { return self->read(after, limit); }, 0,
      [self](const LogSender& s) { self->trim(s.position()); });
  if (!thread.ok()) return thread.error();
  c->thread_ = std::move(thread.value());
  return c;
}

LogClient::~LogClient() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  room_.notify_all();
  if (thread_) thread_->stop();
}

Result<int64_t> LogClient::send(int level, std::string message, int64_t timeMs, std::string host,
                                std::string app, double waitSec) {
  logs::LogRecord r;
  r.level = level;
  r.timeMs = timeMs < 0 ? logs::wallMs() : timeMs;
  r.message = std::move(message);
  r.host = host.empty() ? options_.host : std::move(host);
  r.app = app.empty() ? options_.app : std::move(app);
  int64_t seq;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    bool room = room_.wait_for(lock, boundedWait(waitSec), [&] {
      return closed_ || queue_.size() < static_cast<size_t>(options_.maxQueue);
    });
    if (closed_) return Error{EPIPE, "the LogClient is closed"};
    if (!room) {
      return Error{ETIMEDOUT, std::to_string(queue_.size()) +
                                  " logs are waiting for the server (max_queue); is it up?"};
    }
    seq = ++lastSeq_;
    r.seq = seq;
    queue_.push_back(std::move(r));
  }
  thread_->wake();
  return seq;
}

std::vector<logs::LogRecord> LogClient::read(int64_t after, size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<logs::LogRecord> out;
  if (queue_.empty()) return out;
  int64_t first = queue_.front().seq;
  size_t at = after < first ? 0 : static_cast<size_t>(after - first + 1);
  for (; at < queue_.size() && out.size() < limit; ++at) out.push_back(queue_[at]);
  return out;
}

void LogClient::trim(int64_t position) {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t before = queue_.size();
  while (!queue_.empty() && queue_.front().seq <= position) queue_.pop_front();
  if (queue_.size() != before) room_.notify_all();
}

bool LogClient::flush(double timeoutSec) {
  int64_t last;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last = lastSeq_;
  }
  return thread_->waitFor(last, timeoutSec);
}

bool LogClient::close(double timeoutSec) {
  bool done = flush(timeoutSec);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  room_.notify_all();
  thread_->stop();
  return done;
}

LogClient::Stats LogClient::stats() const {
  Stats s;
  s.sender = thread_->stats();
  std::lock_guard<std::mutex> lock(mutex_);
  s.queued = static_cast<int64_t>(queue_.size());
  s.lastSeq = lastSeq_;
  return s;
}

}  // namespace netlab
