// The index: an indexer thread copies the journal's batches into SQLite, with the position
// it has reached in the same transaction, so a restart resumes exactly there.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>

#include "netlab/apps/logs/store.h"
#include "netlab/io/clock.h"

namespace netlab::logs {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS logs(
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  received INTEGER NOT NULL,
  level INTEGER NOT NULL,
  host TEXT NOT NULL DEFAULT '',
  app TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL,
  flags INTEGER NOT NULL DEFAULT 0,
  client TEXT,
  seq INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS logs_key ON logs(client, seq) WHERE client IS NOT NULL;
CREATE INDEX IF NOT EXISTS logs_ts ON logs(ts);
DROP INDEX IF EXISTS logs_level;
DROP INDEX IF EXISTS logs_received;
CREATE INDEX IF NOT EXISTS logs_severe ON logs(level) WHERE level <= 3;
CREATE VIRTUAL TABLE IF NOT EXISTS logs_fts USING fts5(
  message, content='logs', content_rowid='id', tokenize='unicode61');
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value) SELECT 'indexed', COALESCE(MAX(id), 0) FROM logs;
)sql";

// Background work: on a busy machine ingest and queries come first, and the writer's
// maxIndexLag bounds how far the index may fall behind (then ingest waits for it).
constexpr int kIndexerNice = 19;

int64_t scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  int64_t v = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

}  // namespace

Error sqliteError(const std::string& what, sqlite3* db) {
  return Error{EIO, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory")};
}

Status LogStore::openIndex() {
  // SQLite's allocation statistics take a global mutex on every malloc: a lock and an unlock
  // per allocation of every insert. Only possible before SQLite's first use in the process
  // (else SQLITE_MISUSE, and they stay on).
  static const int memstatusOff = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)memstatusOff;
  std::string path = dir_ + "/logs.db";
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    return sqliteError("open " + path, db_);
  std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                        (options_.syncFull ? "FULL" : "NORMAL") + ";";
  char* err = nullptr;
  if (sqlite3_exec(db_, pragmas.c_str(), nullptr, nullptr, &err) != SQLITE_OK ||
      sqlite3_exec(db_, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    Error e{EIO, path + ": " + (err ? err : "error")};
    sqlite3_free(err);
    return e;
  }
  sqlite3_busy_timeout(db_, 5000);
  const char* insert =
      "INSERT INTO logs(id, ts, received, level, host, app, message, flags, client, seq) "
      "VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(client, seq) WHERE client IS NOT NULL DO NOTHING";
  auto prepare = [](sqlite3* db, const char* sql, sqlite3_stmt** st) {
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) == SQLITE_OK;
  };
  if (!prepare(db_, insert, &insert_) ||
      !prepare(db_, "INSERT INTO logs_fts(rowid, message) VALUES(?, ?)", &insertFts_) ||
      !prepare(db_, "UPDATE meta SET value = ?1 WHERE key = 'indexed'", &setIndexed_))
    return sqliteError("prepare", db_);
  indexed_.store(scalar(db_, "SELECT value FROM meta WHERE key = 'indexed'"));
  if (sqlite3_open_v2(path.c_str(), &keyDb_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
          SQLITE_OK ||
      !prepare(keyDb_, "SELECT 1 FROM logs WHERE client = ?1 AND seq = ?2", &findKey_))
    return sqliteError("open " + path, keyDb_);
  sqlite3_busy_timeout(keyDb_, 5000);
  return {};
}

bool LogStore::keyIndexed(const LogRecord& r) {
  sqlite3_bind_text(findKey_, 1, r.client.data(), static_cast<int>(r.client.size()), SQLITE_STATIC);
  sqlite3_bind_int64(findKey_, 2, r.seq);
  bool found = sqlite3_step(findKey_) == SQLITE_ROW;
  sqlite3_reset(findKey_);
  // On an error the log is written; the index's unique key still keeps it once.
  return found;
}

void LogStore::indexerLoop() {
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kIndexerNice);
  Journal::Cursor cursor;
  std::vector<LogRecord> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(indexMutex_);
      indexWake_.wait(lock, [this] { return stopIndex_ || journal_->lagBytes() > 0; });
      if (stopIndex_) return;
    }
    batch.clear();
    bool readOk = journal_->read(cursor, indexed_.load(), kMaxBatch, batch).ok();
    if (!readOk) {
      indexErrors_.fetch_add(1, std::memory_order_relaxed);
      if (batch.empty()) {  // open(2) or read(2) failed (EMFILE, EIO): later, not in a spin
        std::unique_lock<std::mutex> lock(indexMutex_);
        if (indexWake_.wait_for(lock, std::chrono::milliseconds(100),
                                [this] { return stopIndex_; }))
          return;
      }
    }
    if (!batch.empty() && options_.indexDelaySec > 0) {
      std::unique_lock<std::mutex> lock(indexMutex_);
      if (indexWake_.wait_for(lock, std::chrono::duration<double>(options_.indexDelaySec),
                              [this] { return stopIndex_; }))
        return;
    }
    if (!batch.empty()) {
      // SQLite busy, or the disk full: the same batch again until it goes in (the journal
      // holds it meanwhile, and the writer stops at maxIndexLag).
      while (!index(batch)) {
        indexErrors_.fetch_add(1, std::memory_order_relaxed);
        std::unique_lock<std::mutex> lock(indexMutex_);
        if (indexWake_.wait_for(lock, std::chrono::milliseconds(100),
                                [this] { return stopIndex_; }))
          return;
      }
      forgetKeys(batch);
      if (options_.retentionSec > 0 || options_.maxBytes > 0) retain();
      {
        std::lock_guard<std::mutex> lock(indexMutex_);
        indexed_.store(batch.back().id);
      }
      indexDone_.notify_all();  // waitIndexed(): indexed, and retention has had its turn
      journal_->dropIndexed(batch.back().id);
    }
    // The writer may be waiting for the lag to shrink. It tests the lag under mutex_, so
    // taking mutex_ between the change and the notify means it cannot miss it.
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
  }
}

int64_t LogStore::committedId() const { return journal_->lastId(); }

bool LogStore::waitIndexed(int64_t target, double timeoutSec) {
  std::unique_lock<std::mutex> lock(indexMutex_);
  return indexDone_.wait_for(lock, std::chrono::duration<double>(timeoutSec),
                             [&] { return indexed_.load() >= target; });
}

bool LogStore::index(const std::vector<LogRecord>& batch) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
  auto fail = [this] {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  };
  for (const LogRecord& r : batch) {
    sqlite3_bind_int64(insert_, 1, r.id);
    sqlite3_bind_int64(insert_, 2, r.timeMs);
    sqlite3_bind_int64(insert_, 3, r.receivedMs);
    sqlite3_bind_int(insert_, 4, r.level);
    sqlite3_bind_text(insert_, 5, r.host.data(), static_cast<int>(r.host.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_, 6, r.app.data(), static_cast<int>(r.app.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_, 7, r.message.data(), static_cast<int>(r.message.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 8, r.flags);
    if (r.client.empty()) {
      sqlite3_bind_null(insert_, 9);
      sqlite3_bind_null(insert_, 10);
    } else {
      sqlite3_bind_text(insert_, 9, r.client.data(), static_cast<int>(r.client.size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 10, r.seq);
    }
    int rc = sqlite3_step(insert_);
    sqlite3_reset(insert_);
    if (rc != SQLITE_DONE) return fail();
    if (sqlite3_changes(db_) == 0) continue;  // its key is stored already (a safety net)
    sqlite3_bind_int64(insertFts_, 1, r.id);
    sqlite3_bind_text(insertFts_, 2, r.message.data(), static_cast<int>(r.message.size()),
                      SQLITE_STATIC);
    rc = sqlite3_step(insertFts_);
    sqlite3_reset(insertFts_);
    if (rc != SQLITE_DONE) return fail();
  }
  sqlite3_bind_int64(setIndexed_, 1, batch.back().id);
  int rc = sqlite3_step(setIndexed_);
  sqlite3_reset(setIndexed_);
  if (rc != SQLITE_DONE) return fail();
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return true;
  // A failed COMMIT may leave the transaction open, and every later BEGIN would fail.
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return false;
}

void LogStore::retain() {
  int64_t now = nowNs();
  if (now - lastRetainNs_ < 1000000000) return;
  lastRetainNs_ = now;
  int64_t deleted = 0;
  constexpr int64_t kChunk = 10000;  // a bounded transaction: queries and commits go between
  if (options_.retentionSec > 0) {
    int64_t cutoff = wallMs() - static_cast<int64_t>(options_.retentionSec * 1000);
    for (int64_t n = kChunk; n == kChunk;) {
      n = deleteOldest(cutoff, kChunk);
      deleted += std::max<int64_t>(n, 0);
    }
  }
  if (options_.maxBytes > 0) {
    // Deleted rows free pages for later inserts rather than shrinking the file, and FTS5
    // frees its pages only as it merges segments: the pages in use fall slowly. So one pass
    // deletes the share of rows that should bring them to 90% of the bound, and lets later
    // passes see the effect, instead of deleting until the count drops.
    int64_t used = bytesInUse();
    if (used > options_.maxBytes) {
      int64_t rows = idSpan();
      int64_t drop = rows - static_cast<int64_t>(static_cast<double>(rows) * 0.9 *
                                                 static_cast<double>(options_.maxBytes) /
                                                 static_cast<double>(used));
      while (drop > 0) {
        int64_t n = deleteOldest(-1, std::min(drop, kChunk));
        if (n <= 0) break;
        deleted += n;
        drop -= n;
      }
    }
  }
  if (deleted > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.deleted += static_cast<uint64_t>(deleted);
  }
}

// Oldest first by id: logs are received in id order (ids are given as they arrive), so the
// walk stops at the first one received at or after `receivedBefore`, with no index on the
// time received to maintain for every insert.
int64_t LogStore::deleteOldest(int64_t receivedBefore, int64_t limit) {
  const char* select = "SELECT id, message, received FROM logs ORDER BY id LIMIT ?2";
  sqlite3_stmt* st = nullptr;
  sqlite3_stmt* fts = nullptr;
  sqlite3_stmt* del = nullptr;
  int64_t n = 0;
  bool ok =
      sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db_, select, -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db_,
                         "INSERT INTO logs_fts(logs_fts, rowid, message) "
                         "VALUES('delete', ?1, ?2)",
                         -1, &fts, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db_, "DELETE FROM logs WHERE id = ?1", -1, &del, nullptr) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_int64(st, 2, limit);
    // An external-content FTS5 index forgets a row only when told its old text.
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
      if (receivedBefore >= 0 && sqlite3_column_int64(st, 2) >= receivedBefore) break;
      int64_t id = sqlite3_column_int64(st, 0);
      sqlite3_bind_int64(fts, 1, id);
      sqlite3_bind_value(fts, 2, sqlite3_column_value(st, 1));
      ok = sqlite3_step(fts) == SQLITE_DONE;
      sqlite3_reset(fts);
      sqlite3_bind_int64(del, 1, id);
      ok = ok && sqlite3_step(del) == SQLITE_DONE;
      sqlite3_reset(del);
      ++n;
    }
  }
  sqlite3_finalize(st);
  sqlite3_finalize(fts);
  sqlite3_finalize(del);
  if (ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return n;
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return -1;
}

// MAX(id) - MIN(id) + 1: the rows' count when ids have no gaps, an upper bound otherwise,
// without COUNT(*)'s scan of the whole table.
int64_t LogStore::idSpan() { return scalar(db_, "SELECT MAX(id) - MIN(id) + 1 FROM logs"); }

int64_t LogStore::bytesInUse() {
  return (scalar(db_, "PRAGMA page_count") - scalar(db_, "PRAGMA freelist_count")) *
         scalar(db_, "PRAGMA page_size");
}

}  // namespace netlab::logs
