// netlab.LogClient's engine: logs queued by the caller, shipped by a LogSender thread to the
// first of several LogServers (or syslog servers) that answers, kept until confirmed, so a
// reconnect or a failover sends again only what was not confirmed, and LogServer stores a
// resent log once (its idempotency key: this client's id and the log's sequence number).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "netlab/client/log_sender.h"
#include "netlab/core/options.h"

namespace netlab {

struct LogClientOptions {
  std::string servers;            // "host:port ...", each may carry a scheme (logs://, ...)
  std::string protocol = "text";  // for servers without one: text (logs), binary or syslog
  std::string clientId;           // the idempotency keys' client; empty: a random one
  std::string host, app;          // the logs' host and app fields unless send() gives them
  int64_t window = 1000;          // logs sent and not yet confirmed
  int64_t maxQueue = 100000;      // logs held (unsent or unconfirmed) before send() waits
  double timeoutSec = 10;         // connecting; the longest wait for a server's answer
  double settleSec = 1;           // syslog: see LogSender
};
template <>
struct Fields<LogClientOptions> {
  static const std::vector<Field<LogClientOptions>>& fields();
};

class LogClient {
 public:
  struct Stats {
    LogSender::Stats sender;
    int64_t queued = 0;  // held: not yet confirmed
    int64_t lastSeq = 0;
  };
  static Result<std::unique_ptr<LogClient>> make(LogClientOptions options);
  ~LogClient();  // stops at once: close() first to wait for what is queued

  /// Queues one log; its sequence number. Waits up to `waitSec` while maxQueue logs are held
  /// (ETIMEDOUT after). `timeMs` < 0: now; empty host/app: the client's.
  Result<int64_t> send(int level, std::string message, int64_t timeMs, std::string host,
                       std::string app, double waitSec);
  /// Waits until every log sent before the call is confirmed; false after `timeoutSec`.
  bool flush(double timeoutSec);
  /// flush(), then stops; true when everything was confirmed.
  bool close(double timeoutSec);
  Stats stats() const;
  const std::string& clientId() const { return options_.clientId; }

 private:
  explicit LogClient(LogClientOptions options) : options_(std::move(options)) {}
  std::vector<logs::LogRecord> read(int64_t after, size_t limit);
  void trim(int64_t position);

  LogClientOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::deque<logs::LogRecord> queue_;  // seqs lastSeq_-size+1 .. lastSeq_, in order
  int64_t lastSeq_ = 0;
  bool closed_ = false;
  std::unique_ptr<LogSenderThread> thread_;
};

}  // namespace netlab
