#include "netlab/apps/logs/log_server.h"

#include "netlab/apps/logs/ingest_handler.h"
#include "netlab/apps/logs/query_handler.h"

namespace netlab {
namespace {

constexpr const char* kDataDirHelp =
    "the directory of the store (SQLite, created if missing); ports given the same directory "
    "share one store";

template <class P>
LogSnapshot snapshotOf(const LogCounters& c, const logs::LogStore& store) {
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

}  // namespace

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

const std::vector<Field<LogQueryOptions>>& Fields<LogQueryOptions>::fields() {
  using O = LogQueryOptions;
  static const std::vector<Field<O>> table = {
      text("data_dir", &O::dataDir, "directory", kDataDirHelp),
      number("max_results", &O::maxResults, 1, 10000000, "rows",
             "most rows one query returns (limit= asks for fewer)"),
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

LogSnapshot LogIngestProtocol::snapshot() const {
  return snapshotOf<LogIngestProtocol>(counters_, *store_);
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

LogSnapshot LogQueryProtocol::snapshot() const {
  return snapshotOf<LogQueryProtocol>(counters_, *store_);
}

}  // namespace netlab
