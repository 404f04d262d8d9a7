// LogServer's ports as protocols: ingest (the guide's text protocol) and query. Each port is
// its own native server; the Python LogServer starts one per port, and they share the store
// of their data directory (store.h).
#pragma once

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "netlab/apps/logs/store.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"
#include "netlab/core/rate_limiter.h"

namespace netlab {

struct LogIngestOptions {
  std::string dataDir = "./netlab-logs";
  std::string ack = "received";       // or "durable": answered once the log's batch is committed
  std::string sync = "normal";        // normal or full (see StoreOptions::syncFull)
  int64_t maxMessage = 200000;        // rsyslog imtcp's largest frame; longer ones are truncated
  double commitDelaySec = 0;          // a test hook: a slow disk
  double indexDelaySec = 0;           // a test hook: a slow index
  std::string token;                  // required first as AUTH|<token>; empty: none
  double messageRate = 0;             // logs a second per client address; 0: no limit
  double retentionSec = 0;            // logs received longer ago are deleted; 0: kept
  int64_t maxStoreBytes = 0;          // past this, the oldest logs are deleted; 0: no bound
  int64_t maxIndexLag = 512ll << 20;  // see StoreOptions::maxIndexLag
};
template <>
struct Fields<LogIngestOptions> {
  static const std::vector<Field<LogIngestOptions>>& fields();
};

struct LogQueryOptions {
  std::string dataDir = "./netlab-logs";
  int64_t maxResults = 10000;       // rows one query may return
  int64_t maxTailQueue = 32 << 20;  // output a TAIL client may leave unread before it is dropped
  std::string token;                // required first as AUTH|<token>; empty: none
};
template <>
struct Fields<LogQueryOptions> {
  static const std::vector<Field<LogQueryOptions>>& fields();
};

/// What stats() adds for a log port.
struct LogSnapshot {
  uint64_t received = 0, acknowledged = 0, parseErrors = 0, truncated = 0;
  uint64_t badTokens = 0, rateLimited = 0;
  uint64_t queries = 0, rowsReturned = 0;
  uint64_t stored = 0, batches = 0, duplicates = 0, failedBatches = 0, queued = 0, deleted = 0;
  uint64_t unindexed = 0, indexErrors = 0;
};

struct LogCounters {
  std::atomic<uint64_t> received{0}, acknowledged{0}, parseErrors{0}, truncated{0}, queries{0},
      rowsReturned{0}, badTokens{0}, rateLimited{0};
};

/// Why a log connection is not being read; reading resumes once no reason is left.
struct ReadHolds {
  bool behind = false;   // the store's writer is behind
  bool rate = false;     // past the port's message rate
  bool replies = false;  // answers waiting to go out have reached their bound
  bool any() const { return behind || rate || replies; }
};

/// What every LogServer port has: the shared store and its own counters.
class LogPort : public Protocol {
 public:
  logs::LogStore& store() { return *store_; }
  LogCounters& counters() { return counters_; }
  LogSnapshot snapshot() const;
  /// The token a text connection must give first (AUTH|<token>); empty: none.
  const std::string& token() const { return token_; }
  /// The port's message rate, asked before each message from `conn` is taken: false when the
  /// client is past it; then reading pauses (the message stays in the input, TCP pushes
  /// back, nothing is dropped) until it is within its rate again. `holds` is the handler's.
  bool pace(Conn& conn, ReadHolds& holds);

 protected:
  LogPort(std::shared_ptr<logs::LogStore> store, std::string token, double messageRate)
      : store_(std::move(store)),
        token_(std::move(token)),
        messageRate_(messageRate, std::max(1.0, messageRate)) {}

 private:
  std::shared_ptr<logs::LogStore> store_;
  LogCounters counters_;
  std::string token_;
  RateLimiter messageRate_;
};

class LogIngestProtocol final : public LogPort {
 public:
  static Result<std::shared_ptr<Protocol>> make(LogIngestOptions options);
  std::string_view name() const override { return "logs"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override;
  OptionMap optionValues() const override { return valuesOf(options_); }
  const LogIngestOptions& options() const { return options_; }

 private:
  LogIngestProtocol(LogIngestOptions options, std::shared_ptr<logs::LogStore> store)
      : LogPort(std::move(store), options.token, options.messageRate),
        options_(std::move(options)) {}
  LogIngestOptions options_;
};

class LogQueryProtocol final : public LogPort {
 public:
  static Result<std::shared_ptr<Protocol>> make(LogQueryOptions options);
  std::string_view name() const override { return "logs-query"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxQueuedOutput() const override { return static_cast<size_t>(options_.maxTailQueue); }
  OptionMap optionValues() const override { return valuesOf(options_); }
  const LogQueryOptions& options() const { return options_; }

 private:
  LogQueryProtocol(LogQueryOptions options, std::shared_ptr<logs::LogStore> store)
      : LogPort(std::move(store), options.token, 0), options_(std::move(options)) {}
  LogQueryOptions options_;
};

struct LogSyslogOptions {
  std::string dataDir = "./netlab-logs";
  int64_t maxMessage = 200000;  // rsyslog imtcp's largest frame; longer ones are truncated
  double messageRate = 0;       // logs a second per client address; 0: no limit
};
template <>
struct Fields<LogSyslogOptions> {
  static const std::vector<Field<LogSyslogOptions>>& fields();
};

class LogSyslogProtocol final : public LogPort {
 public:
  static Result<std::shared_ptr<Protocol>> make(LogSyslogOptions options);
  std::string_view name() const override { return "logs-syslog"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override;
  OptionMap optionValues() const override { return valuesOf(options_); }
  const LogSyslogOptions& options() const { return options_; }

 private:
  LogSyslogProtocol(LogSyslogOptions options, std::shared_ptr<logs::LogStore> store)
      : LogPort(std::move(store), {}, options.messageRate), options_(std::move(options)) {}
  LogSyslogOptions options_;
};

/// The writer is far behind: stops reading `conn` until it has caught up (then
/// `holds.behind` is cleared and reading resumes unless another hold remains), so ingest
/// memory stays bounded. No-op while held for it.
void pauseWhileBehind(Conn& conn, logs::LogStore& store, ReadHolds& holds);

}  // namespace netlab
