#include "netlab/apps/logs/log_server.h"

#include "netlab/apps/logs/ingest_handler.h"
#include "netlab/apps/logs/query_handler.h"
#include "netlab/apps/logs/syslog_handler.h"
#include "netlab/io/clock.h"
#include "netlab/io/socket.h"

namespace netlab {
namespace {

constexpr const char* kDataDirHelp =
    "the directory of the store (a journal of logs and its block index, created if missing); "
    "ports given the same directory share one store";

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
  s.queries = get(c.queries);
  s.rowsReturned = get(c.rowsReturned);
  s.badTokens = get(c.badTokens);
  s.rateLimited = get(c.rateLimited);
  logs::LogStore::Stats st = store.stats();
  s.stored = st.stored;
  s.batches = st.batches;
  s.duplicates = st.duplicates;
  s.failedBatches = st.failedBatches;
  s.queued = st.queued;
  s.deleted = st.deleted;
  s.unindexed = static_cast<uint64_t>(st.unindexed);
  s.indexErrors = st.indexErrors;
  return s;
}

bool LogPort::pace(Conn& conn, ReadHolds& holds) {
  if (!messageRate_.enabled()) return true;
  if (holds.rate) return false;
  double wait = 0;
  if (messageRate_.admit(withoutPort(conn.peer()), nowNs(), wait)) return true;
  counters_.rateLimited.fetch_add(1, std::memory_order_relaxed);
  holds.rate = true;
  conn.pauseReading();
  ReadHolds* held = &holds;  // the handler's: the timer is cancelled when the connection closes
  conn.runAfter(wait, [held, &conn] {
    held->rate = false;
    if (!held->any()) conn.resumeReading();
  });
  return false;
}

void pauseWhileBehind(Conn& conn, logs::LogStore& store, ReadHolds& holds) {
  if (holds.behind) return;
  auto outlet = conn.outlet();
  ReadHolds* held = &holds;  // the handler's: post() runs only while its connection is open
  if (!store.behind([outlet, held] {
        outlet->post([held](Conn& c) {
          held->behind = false;
          if (!held->any()) c.resumeReading();
        });
      }))
    return;
  holds.behind = true;
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
           "a commit survives: normal, the process being killed; full, also a power loss "
           "(each journal batch fdatasync'ed, the index's SQLite synchronous=FULL)",
           {"normal", "full"}),
      number("max_message", &O::maxMessage, 64, 16 << 20, "bytes",
             "longest message kept whole; longer ones are stored truncated and flagged"),
      number("commit_delay", &O::commitDelaySec, 0, 60, "seconds",
             "a test hook: every commit waits this long first, as on a slow disk"),
      number("index_delay", &O::indexDelaySec, 0, 60, "seconds",
             "a test hook: every batch the indexer reads from the journal waits this long first"),
      text("token", &O::token, "secret",
           "a client must send AUTH|<token> first (text protocol; binary clients are refused "
           "while one is set); empty: none"),
      number("message_rate", &O::messageRate, 0, 1e9, "logs/s",
             "logs a second one client address may send; past it reading pauses (nothing is "
             "dropped)",
             "(0: no limit)", true),
      number("retention", &O::retentionSec, 0, 1e10, "seconds",
             "logs received longer ago than this are deleted (checked once a second)", "(0: kept)",
             true),
      number("max_store_bytes", &O::maxStoreBytes, 0, 1e15, "bytes",
             "bytes of logs and index past which the oldest blocks of logs are deleted",
             "(0: no bound)", true),
      number("max_index_lag", &O::maxIndexLag, 1 << 20, 1e15, "bytes",
             "journal not yet indexed past which ingest pauses until the index catches up "
             "(bounds the journal on disk; bursts below it go at the journal's speed)"),
  };
  return table;
}

const std::vector<Field<LogSyslogOptions>>& Fields<LogSyslogOptions>::fields() {
  using O = LogSyslogOptions;
  static const std::vector<Field<O>> table = {
      text("data_dir", &O::dataDir, "directory", kDataDirHelp),
      number("max_message", &O::maxMessage, 64, 16 << 20, "bytes",
             "largest syslog frame kept whole; longer ones are stored truncated and flagged"),
      number("message_rate", &O::messageRate, 0, 1e9, "logs/s",
             "logs a second one client address may send; past it reading pauses (nothing is "
             "dropped)",
             "(0: no limit)", true),
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
      text("token", &O::token, "secret", "a client must send AUTH|<token> first; empty: none"),
  };
  return table;
}

Result<std::shared_ptr<Protocol>> LogIngestProtocol::make(LogIngestOptions options) {
  logs::StoreOptions so;
  so.dir = options.dataDir;
  so.syncFull = options.sync == "full";
  so.commitDelaySec = options.commitDelaySec;
  so.indexDelaySec = options.indexDelaySec;
  so.retentionSec = options.retentionSec;
  so.maxBytes = options.maxStoreBytes;
  so.maxIndexLag = static_cast<uint64_t>(options.maxIndexLag);
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
