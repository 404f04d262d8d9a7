// LogServer's ports as protocols: ingest (the guide's text protocol) and query. Each port is
// its own native server; the Python LogServer starts one per port, and they share the store
// of their data directory (store.h).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "netlab/apps/logs/store.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"

namespace netlab {

struct LogIngestOptions {
  std::string dataDir = "./netlab-logs";
  std::string ack = "received";  // or "durable": answered once the log's batch is committed
  std::string sync = "normal";   // SQLite synchronous: normal (WAL) or full (see StoreOptions)
  int64_t maxMessage = 200000;   // rsyslog imtcp's largest frame; longer ones are truncated
  double commitDelaySec = 0;     // a test hook: a slow disk
};
template <>
struct Fields<LogIngestOptions> {
  static const std::vector<Field<LogIngestOptions>>& fields();
};

struct LogQueryOptions {
  std::string dataDir = "./netlab-logs";
  int64_t maxResults = 10000;       // rows one query may return
  int64_t maxTailQueue = 32 << 20;  // output a TAIL client may leave unread before it is dropped
};
template <>
struct Fields<LogQueryOptions> {
  static const std::vector<Field<LogQueryOptions>>& fields();
};

/// What stats() adds for a log port.
struct LogSnapshot {
  uint64_t received = 0, acknowledged = 0, parseErrors = 0, truncated = 0, rejected = 0;
  uint64_t queries = 0, rowsReturned = 0;
  uint64_t stored = 0, batches = 0, duplicates = 0, failedBatches = 0, queued = 0;
};

struct LogCounters {
  std::atomic<uint64_t> received{0}, acknowledged{0}, parseErrors{0}, truncated{0}, rejected{0},
      queries{0}, rowsReturned{0};
};

/// What every LogServer port has: the shared store and its own counters.
class LogPort : public Protocol {
 public:
  logs::LogStore& store() { return *store_; }
  LogCounters& counters() { return counters_; }
  LogSnapshot snapshot() const;

 protected:
  explicit LogPort(std::shared_ptr<logs::LogStore> store) : store_(std::move(store)) {}

 private:
  std::shared_ptr<logs::LogStore> store_;
  LogCounters counters_;
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
      : LogPort(std::move(store)), options_(std::move(options)) {}
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
      : LogPort(std::move(store)), options_(std::move(options)) {}
  LogQueryOptions options_;
};

struct LogSyslogOptions {
  std::string dataDir = "./netlab-logs";
  int64_t maxMessage = 200000;  // rsyslog imtcp's largest frame; longer ones are truncated
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
      : LogPort(std::move(store)), options_(std::move(options)) {}
  LogSyslogOptions options_;
};

/// The writer is far behind: stops reading `conn` until it has caught up (then `paused`
/// is cleared and reading resumes), so ingest memory stays bounded. No-op while paused.
void pauseWhileBehind(Conn& conn, logs::LogStore& store, bool& paused);

}  // namespace netlab
