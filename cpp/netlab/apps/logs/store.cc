#include "netlab/apps/logs/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>

#include "netlab/apps/logs/query_handler.h"
#include "netlab/core/handler.h"
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
)sql";

std::mutex openMutex;
std::map<std::string, std::weak_ptr<LogStore>>& openStores() {
  static std::map<std::string, std::weak_ptr<LogStore>> stores;
  return stores;
}

Error sqliteError(const std::string& what, sqlite3* db) {
  return Error{EIO, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory")};
}

// A keyword as one FTS5 phrase: quotes doubled, so no input is read as query syntax.
std::string ftsPhrase(const std::string& word) {
  std::string out = "\"";
  for (char c : word) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

std::string text(sqlite3_stmt* st, int col) {
  const unsigned char* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(st, col)))
           : std::string();
}

}  // namespace

LogStore::LogStore(std::string dir, StoreOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

Result<std::shared_ptr<LogStore>> LogStore::open(const StoreOptions& options) {
  if (::mkdir(options.dir.c_str(), 0755) != 0 && errno != EEXIST)
    return sysError("mkdir " + options.dir);
  char real[4096];
  if (!::realpath(options.dir.c_str(), real)) return sysError("realpath " + options.dir);
  std::lock_guard<std::mutex> lock(openMutex);
  auto& stores = openStores();
  if (auto existing = stores[real].lock()) return existing;
  std::shared_ptr<LogStore> store(new LogStore(real, options));
  Status st = store->init();
  if (!st.ok()) return st.error();
  stores[real] = store;
  return store;
}

Status LogStore::init() {
  // Ids come from MAX(id) at open: two processes writing one store would hand out the same.
  std::string lockPath = dir_ + "/lock";
  lock_.reset(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock_.valid()) return sysError("open " + lockPath);
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    return Error{errno == EWOULDBLOCK ? EBUSY : errno,
                 dir_ + " is in use by another process (its lock file is held)"};
  }
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
  if (sqlite3_prepare_v3(db_, insert, -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) !=
          SQLITE_OK ||
      sqlite3_prepare_v3(db_, "INSERT INTO logs_fts(rowid, message) VALUES(?, ?)", -1,
                         SQLITE_PREPARE_PERSISTENT, &insertFts_, nullptr) != SQLITE_OK)
    return sqliteError("prepare", db_);
  sqlite3_stmt* max = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(id), 0) FROM logs", -1, &max, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(max) == SQLITE_ROW)
    nextId_ = sqlite3_column_int64(max, 0) + 1;
  sqlite3_finalize(max);
  writer_ = std::thread([this] { writerLoop(); });
  return {};
}

LogStore::~LogStore() {
  queryPool_.reset();  // queries still queued run first: they use the read connections
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  sqlite3_finalize(insert_);
  sqlite3_finalize(insertFts_);
  sqlite3_close(db_);
  for (sqlite3* r : readers_) sqlite3_close(r);
}

int64_t LogStore::append(LogRecord record, const std::shared_ptr<AckSink>& sink) {
  int64_t id;
  bool wasEmpty;
  {
    // Ids are given in queue order, so they are committed in order: a reader that has seen
    // id n (TAIL, the forwarder) will never see a smaller one appear later.
    std::lock_guard<std::mutex> lock(mutex_);
    id = nextId_++;
    record.id = id;
    wasEmpty = queue_.empty();
    queue_.push_back({std::move(record), sink});
    ++appended_;
  }
  // The writer sleeps only on an empty queue: one wake-up per batch, not a futex call per log.
  if (wasEmpty) wake_.notify_one();
  return id;
}

bool LogStore::behind(std::function<void()> resume) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.size() < kMaxQueued) return false;
  waiters_.push_back(std::move(resume));
  return true;
}

void LogStore::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t target = appended_;
  flushed_.wait(lock, [&] { return committed_ >= target; });
}

LogStore::Stats LogStore::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats s = stats_;
  s.queued = queue_.size();
  return s;
}

void LogStore::writerLoop() {
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is committed
      size_t n = std::min(queue_.size(), kMaxBatch);
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (options_.commitDelaySec > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.commitDelaySec));
    uint64_t duplicates = 0;
    bool ok = commit(batch, duplicates);
    if (ok && (options_.retentionSec > 0 || options_.maxBytes > 0)) retain();
    // One call per connection per batch, its ids in order.
    std::vector<std::pair<AckSink*, std::vector<int64_t>>> acks;
    std::map<AckSink*, size_t> index;
    for (const Pending& p : batch) {
      if (!p.sink) continue;
      auto [it, added] = index.emplace(p.sink.get(), acks.size());
      if (added) acks.push_back({p.sink.get(), {}});
      acks[it->second].second.push_back(p.record.id);
    }
    for (auto& [sink, ids] : acks) sink->committed(std::move(ids), ok);
    if (ok) publish(batch);
    if (ok) {
      std::lock_guard<std::mutex> lock(watchMutex_);
      for (auto& [token, watcher] : watchers_) watcher();
    }
    std::vector<std::function<void()>> resumed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      committed_ += batch.size();
      ++stats_.batches;
      if (ok) {
        stats_.stored += batch.size() - duplicates;
        stats_.duplicates += duplicates;
      } else {
        ++stats_.failedBatches;
      }
      if (queue_.size() < kResumeBelow) resumed.swap(waiters_);
    }
    flushed_.notify_all();
    batch.clear();  // the sinks' last references may go here, off the lock
    for (auto& resume : resumed) resume();
  }
}

bool LogStore::commit(std::vector<Pending>& batch, uint64_t& duplicates) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
  for (Pending& p : batch) {
    const LogRecord& r = p.record;
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
    if (rc != SQLITE_DONE) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
    if (sqlite3_changes(db_) == 0) {  // the same client and sequence number: stored already
      p.stored = false;
      ++duplicates;
      continue;
    }
    sqlite3_bind_int64(insertFts_, 1, r.id);
    sqlite3_bind_text(insertFts_, 2, r.message.data(), static_cast<int>(r.message.size()),
                      SQLITE_STATIC);
    rc = sqlite3_step(insertFts_);
    sqlite3_reset(insertFts_);
    if (rc != SQLITE_DONE) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return true;
  // A failed COMMIT may leave the transaction open, and every later BEGIN would fail.
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return false;
}

namespace {

// Lowercased words of `text`: runs of letters, digits and bytes of multibyte characters.
std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c >= 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

}  // namespace

bool matches(const Filter& f, const LogRecord& r) {
  if (f.level >= 0 && r.level != f.level) return false;
  if (f.maxLevel >= 0 && r.level > f.maxLevel) return false;
  if (f.sinceMs >= 0 && r.timeMs < f.sinceMs) return false;
  if (f.untilMs >= 0 && r.timeMs >= f.untilMs) return false;
  if (!f.host.empty() && r.host != f.host) return false;
  if (!f.app.empty() && r.app != f.app) return false;
  if (f.keyword.empty()) return true;
  std::vector<std::string> want = words(f.keyword), have = words(r.message);
  if (want.empty()) return true;
  for (size_t i = 0; i + want.size() <= have.size(); ++i) {
    if (std::equal(want.begin(), want.end(), have.begin() + static_cast<long>(i))) return true;
  }
  return false;
}

uint64_t LogStore::subscribe(const Filter& filter, std::shared_ptr<Outlet> outlet) {
  std::lock_guard<std::mutex> lock(tailMutex_);
  uint64_t token = nextTail_++;
  tails_[token] = {filter, std::move(outlet)};
  return token;
}

void LogStore::unsubscribe(uint64_t token) {
  std::lock_guard<std::mutex> lock(tailMutex_);
  tails_.erase(token);
}

// On the writer thread after a commit: each tail gets its matching rows in one message.
void LogStore::publish(const std::vector<Pending>& batch) {
  std::lock_guard<std::mutex> lock(tailMutex_);
  for (auto it = tails_.begin(); it != tails_.end();) {
    std::string out;
    for (const Pending& p : batch) {
      if (p.stored && matches(it->second.filter, p.record)) appendRow(out, p.record);
    }
    if (!out.empty() && !it->second.outlet->deliver(out)) {
      it = tails_.erase(it);  // closed, or dropped as too slow
      continue;
    }
    ++it;
  }
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
int64_t LogStore::idSpan() {
  sqlite3_stmt* st = nullptr;
  int64_t span = 0;
  if (sqlite3_prepare_v2(db_, "SELECT MAX(id) - MIN(id) + 1 FROM logs", -1, &st, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    span = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return span;
}

int64_t LogStore::bytesInUse() {
  auto pragma = [this](const char* sql) {
    sqlite3_stmt* st = nullptr;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  };
  return (pragma("PRAGMA page_count") - pragma("PRAGMA freelist_count")) *
         pragma("PRAGMA page_size");
}

sqlite3* LogStore::readConnection() {
  {
    std::lock_guard<std::mutex> lock(readMutex_);
    if (!readers_.empty()) {
      sqlite3* db = readers_.back();
      readers_.pop_back();
      return db;
    }
  }
  sqlite3* db = nullptr;
  std::string path = dir_ + "/logs.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

void LogStore::giveBack(sqlite3* db) {
  std::lock_guard<std::mutex> lock(readMutex_);
  readers_.push_back(db);
}

Result<std::vector<LogRecord>> LogStore::query(const Filter& f) {
  // With a keyword, the FTS index drives (CROSS JOIN keeps it the outer loop), walked in id
  // order from the newest, so LIMIT stops it early even when millions of logs match.
  std::string sql = "SELECT l.id, l.ts, l.received, l.level, l.host, l.app, l.message, l.flags";
  sql += f.keyword.empty() ? " FROM logs l WHERE 1"
                           : " FROM logs_fts CROSS JOIN logs l ON l.id = logs_fts.rowid"
                             " WHERE logs_fts MATCH ?1";
  // Levels as literals (0-7, checked by the parser), so the planner can use the partial index
  // of severe levels (level <= 3) for the rare logs one most often looks for.
  if (f.level >= 0) sql += " AND l.level = " + std::to_string(f.level & 7);
  if (f.maxLevel >= 0) sql += " AND l.level <= " + std::to_string(f.maxLevel & 7);
  if (f.sinceMs >= 0) sql += " AND l.ts >= ?4";
  if (f.untilMs >= 0) sql += " AND l.ts < ?5";
  if (!f.host.empty()) sql += " AND l.host = ?6";
  if (!f.app.empty()) sql += " AND l.app = ?7";
  if (f.afterId > 0) sql += f.keyword.empty() ? " AND l.id > ?8" : " AND logs_fts.rowid > ?8";
  std::string order = f.keyword.empty() ? " ORDER BY l.id" : " ORDER BY logs_fts.rowid";
  // The newest `limit` matches, returned oldest first (as a log reads); or the oldest.
  sql = f.oldestFirst ? sql + order + " LIMIT ?9"
                      : "SELECT * FROM (" + sql + order + " DESC LIMIT ?9) ORDER BY id";
  sqlite3* db = readConnection();
  if (!db) return Error{EIO, "cannot open " + dir_ + "/logs.db for reading"};
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    Error e = sqliteError("query", db);
    giveBack(db);
    return e;
  }
  std::string phrase = ftsPhrase(f.keyword);
  if (!f.keyword.empty()) sqlite3_bind_text(st, 1, phrase.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 2, f.level);
  sqlite3_bind_int(st, 3, f.maxLevel);
  sqlite3_bind_int64(st, 4, f.sinceMs);
  sqlite3_bind_int64(st, 5, f.untilMs);
  sqlite3_bind_text(st, 6, f.host.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 7, f.app.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 8, f.afterId);
  sqlite3_bind_int64(st, 9, static_cast<int64_t>(f.limit));
  std::vector<LogRecord> rows;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    LogRecord r;
    r.id = sqlite3_column_int64(st, 0);
    r.timeMs = sqlite3_column_int64(st, 1);
    r.receivedMs = sqlite3_column_int64(st, 2);
    r.level = sqlite3_column_int(st, 3);
    r.host = text(st, 4);
    r.app = text(st, 5);
    r.message = text(st, 6);
    r.flags = static_cast<uint32_t>(sqlite3_column_int64(st, 7));
    rows.push_back(std::move(r));
  }
  Result<std::vector<LogRecord>> out =
      rc == SQLITE_DONE ? Result<std::vector<LogRecord>>(std::move(rows))
                        : Result<std::vector<LogRecord>>(sqliteError("query", db));
  sqlite3_finalize(st);
  giveBack(db);
  return out;
}

int64_t LogStore::lastId() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return nextId_ - 1;
}

uint64_t LogStore::watch(std::function<void()> onCommit) {
  std::lock_guard<std::mutex> lock(watchMutex_);
  uint64_t token = nextWatch_++;
  watchers_.emplace(token, std::move(onCommit));
  return token;
}

void LogStore::unwatch(uint64_t token) {
  std::lock_guard<std::mutex> lock(watchMutex_);
  watchers_.erase(token);
}

}  // namespace netlab::logs
