#include "netlab/apps/logs/log_server.h"

#include "netlab/apps/logs/ingest_handler.h"
#include "netlab/apps/logs/query_handler.h"
#include "netlab/apps/logs/syslog_handler.h"

namespace netlab {
namespace {

constexpr const char* kDataDirHelp =
    "the directory of the store (SQLite, created if missing); ports given the same directory "
    "share one store";

}  // namespace

LogSnapshot LogPort::snapshot() const {
  const LogCounters& c = counters_;
  const logs::LogStore& store = *store_;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  LogSnapshot s;
  s.received = get(c.received);
  s.acknowledged = get(c.acknowledged);
  s.parseErrors = get(c.parseErrors);
  s.truncated = get(c.truncated);
  s.rejected = get(c.rejected);
  s.queries = get(c.queries);
  s.rowsReturned = get(c.rowsReturned);
  logs::LogStore::Stats st = store.stats();
  s.stored = st.stored;
  s.batches = st.batches;
  s.duplicates = st.duplicates;
  s.failedBatches = st.failedBatches;
  s.queued = st.queued;
  return s;
}

void pauseWhileBehind(Conn& conn, logs::LogStore& store, bool& paused) {
  if (paused) return;
  auto outlet = conn.outlet();
  bool* flag = &paused;  // the handler's: post() runs only while its connection is open
  if (!store.behind([outlet, flag] {
        outlet->post([flag](Conn& c) {
          *flag = false;
          c.resumeReading();
        });
      }))
    return;
  paused = true;
  conn.pauseReading();
}

const std::vector<Field<LogIngestOptions>>& Fields<LogIngestOptions>::fields() {
  using O = LogIngestOptions;
  static const std::vector<Field<O>> table = {
      text("data_dir", &O::dataDir, "directory", kDataDirHelp),
      text("ack", &O::ack, "mode",
           "when a LOG is answered: once parsed, or once the batch holding it is committed",
           {"received", "durable"}),
      text("sync", &O::sync, "mode",
           "SQLite's synchronous setting: normal survives the process being killed, full "
           "also a power loss",
           {"normal", "full"}),
      number("max_message", &O::maxMessage, 64, 16 << 20, "bytes",
             "longest message kept whole; longer ones are stored truncated and flagged"),
      number("commit_delay", &O::commitDelaySec, 0, 60, "seconds",
             "a test hook: every commit waits this long first, as on a slow disk"),
  };
  return table;
}

const std::vector<Field<LogSyslogOptions>>& Fields<LogSyslogOptions>::fields() {
  using O = LogSyslogOptions;
  static const std::vector<Field<O>> table = {
      text("data_dir", &O::dataDir, "directory", kDataDirHelp),
      number("max_message", &O::maxMessage, 64, 16 << 20, "bytes",
             "largest syslog frame kept whole; longer ones are stored truncated and flagged"),
  };
  return table;
}

const std::vector<Field<LogQueryOptions>>& Fields<LogQueryOptions>::fields() {
  using O = LogQueryOptions;
  static const std::vector<Field<O>> table = {
      text("data_dir", &O::dataDir, "directory", kDataDirHelp),
      number("max_results", &O::maxResults, 1, 10000000, "rows",
             "most rows one query returns (limit= asks for fewer; at most 16 MiB of them)"),
      number("max_tail_queue", &O::maxTailQueue, 17 << 20, 1 << 30, "bytes",
             "output a connection may leave unread (a TAIL that falls behind) before it is "
             "dropped as a slow consumer; above a query's largest answer"),
  };
  return table;
}

Result<std::shared_ptr<Protocol>> LogIngestProtocol::make(LogIngestOptions options) {
  logs::StoreOptions so;
  so.dir = options.dataDir;
  so.syncFull = options.sync == "full";
  so.commitDelaySec = options.commitDelaySec;
  auto store = logs::LogStore::open(so);
  if (!store.ok()) return store.error();
  return std::shared_ptr<Protocol>(
      new LogIngestProtocol(std::move(options), std::move(store.value())));
}

std::unique_ptr<Handler> LogIngestProtocol::newHandler() {
  return std::make_unique<logs::IngestHandler>(*this);
}

size_t LogIngestProtocol::maxPendingInput() const {
  return static_cast<size_t>(options_.maxMessage) + (64 << 10);
}

Result<std::shared_ptr<Protocol>> LogQueryProtocol::make(LogQueryOptions options) {
  logs::StoreOptions so;
  so.dir = options.dataDir;
  auto store = logs::LogStore::open(so);
  if (!store.ok()) return store.error();
  return std::shared_ptr<Protocol>(
      new LogQueryProtocol(std::move(options), std::move(store.value())));
}

std::unique_ptr<Handler> LogQueryProtocol::newHandler() {
  return std::make_unique<logs::QueryHandler>(*this);
}

}  // namespace netlab

namespace netlab {

Result<std::shared_ptr<Protocol>> LogSyslogProtocol::make(LogSyslogOptions options) {
  logs::StoreOptions so;
  so.dir = options.dataDir;
  auto store = logs::LogStore::open(so);
  if (!store.ok()) return store.error();
  return std::shared_ptr<Protocol>(
      new LogSyslogProtocol(std::move(options), std::move(store.value())));
}

std::unique_ptr<Handler> LogSyslogProtocol::newHandler() {
  return std::make_unique<logs::SyslogHandler>(*this);
}

size_t LogSyslogProtocol::maxPendingInput() const {
  return static_cast<size_t>(options_.maxMessage) + (64 << 10);
}

}  // namespace netlab
