// The index: an indexer thread follows the journal and describes it block by block in
// SQLite, with its position in the same transaction, so a restart resumes exactly there.
// Retention lives here too: it moves the first id kept and deletes whole segments below it.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "netlab/apps/logs/store.h"
#include "netlab/apps/logs/token_bloom.h"
#include "netlab/io/clock.h"

namespace netlab::logs {
namespace {

// page_size first: it holds only for a new database, and 64 KiB keeps a block's filter (at
// most 32 KiB) on its row's page, so a query reads it without following overflow pages.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS blocks(
  first_id INTEGER PRIMARY KEY,
  last_id INTEGER NOT NULL,
  count INTEGER NOT NULL,
  seg INTEGER NOT NULL,
  lo INTEGER NOT NULL,
  hi INTEGER NOT NULL,
  min_ts INTEGER NOT NULL,
  max_ts INTEGER NOT NULL,
  max_received INTEGER NOT NULL,
  levels INTEGER NOT NULL,
  bloom BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keys(
  client TEXT NOT NULL, seq INTEGER NOT NULL, id INTEGER NOT NULL,
  PRIMARY KEY(client, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keys_id ON keys(id);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value)
  VALUES('indexed', 0), ('kept', 1), ('segment', 0), ('offset', 0);
)sql";

// Background work: on a busy machine ingest and queries come first, and the writer's
// maxIndexLag bounds how far the index may fall behind (then ingest waits for it).
constexpr int kIndexerNice = 19;
constexpr int64_t kBlockRecords = 4096;
constexpr uint64_t kBlockBytes = 4 << 20;
// A filling block is written when the indexer has caught up, at most this often: queries
// find recent logs through the index, and a trickle of logs still makes few rewrites.
constexpr int64_t kResealNs = 100'000'000;

int64_t scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  int64_t v = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

bool step(sqlite3_stmt* st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE;
}

}  // namespace

Error sqliteError(const std::string& what, sqlite3* db) {
  return Error{EIO, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory")};
}

void LogStore::Block::add(const RecordView& r) {
  if (count == 0) {
    firstId = r.id;
    minTime = maxTime = r.timeMs;
    maxReceived = r.receivedMs;
  }
  lastId = r.id;
  ++count;
  minTime = std::min(minTime, r.timeMs);
  maxTime = std::max(maxTime, r.timeMs);
  maxReceived = std::max(maxReceived, r.receivedMs);
  levels |= 1u << (r.level & 7);
  forEachWordHash(r.message, [&](uint64_t h) { words.push_back(h); });
  // A block's logs mostly share a few hosts and apps: each run of one counts once.
  uint64_t host = wordHash(r.host, 1), app = wordHash(r.app, 2);
  if (host != lastHost) words.push_back(lastHost = host);
  if (app != lastApp) words.push_back(lastApp = app);
  if (!r.client.empty()) {
    LogRecord key;
    key.id = r.id;
    key.client = r.client;
    key.seq = r.seq;
    keyed.push_back(std::move(key));
  }
  dirty = true;
}

void LogStore::Block::join(Block& next) {
  if (count == 0) {
    next.span.begin = span.begin;
    std::swap(*this, next);
    dirty = true;
    return;
  }
  span.end = next.span.end;
  if (next.count > 0) {
    lastId = next.lastId;
    count += next.count;
    minTime = std::min(minTime, next.minTime);
    maxTime = std::max(maxTime, next.maxTime);
    maxReceived = std::max(maxReceived, next.maxReceived);
    levels |= next.levels;
    words.insert(words.end(), next.words.begin(), next.words.end());
    keyed.insert(keyed.end(), std::make_move_iterator(next.keyed.begin()),
                 std::make_move_iterator(next.keyed.end()));
    lastHost = next.lastHost;
    lastApp = next.lastApp;
  }
  dirty = true;
}

void LogStore::Block::clear() {
  span = {};
  firstId = lastId = count = 0;
  levels = 0;
  words.clear();  // capacity kept: the next block is about as big
  keyed.clear();
  lastHost = lastApp = 0;
  dirty = false;
}

Status LogStore::openIndex() {
  // SQLite's allocation statistics take a global mutex on every malloc. Only possible
  // before SQLite's first use in the process (else SQLITE_MISUSE, and they stay on).
  static const int memstatusOff = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)memstatusOff;
  std::string path = dir_ + "/index.db";
  struct stat sb;
  if (::stat((dir_ + "/logs.db").c_str(), &sb) == 0 && ::stat(path.c_str(), &sb) != 0) {
    // Its logs are in logs.db alone (its journal kept only what was not yet indexed):
    // opened as a new store they would vanish from queries without a word.
    return Error{EINVAL, dir_ +
                             " holds a store of an earlier netlab (logs.db, a row per log); this "
                             "version keeps logs in a journal with a block index: give another "
                             "data_dir, or move logs.db away (sqlite3 still reads it)"};
  }
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    return sqliteError("open " + path, db_);
  // A checkpoint every 32 pages (2 MiB) and the WAL cut back to 1 MiB after it: with large
  // pages the default (1,000 pages) would let the WAL reach 64 MiB.
  std::string pragmas = std::string("PRAGMA page_size=65536; PRAGMA journal_mode=WAL; ") +
                        "PRAGMA wal_autocheckpoint=32; PRAGMA journal_size_limit=1048576; " +
                        "PRAGMA synchronous=" + (options_.syncFull ? "FULL" : "NORMAL") + ";";
  char* err = nullptr;
  if (sqlite3_exec(db_, pragmas.c_str(), nullptr, nullptr, &err) != SQLITE_OK ||
      sqlite3_exec(db_, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    Error e{EIO, path + ": " + (err ? err : "error")};
    sqlite3_free(err);
    return e;
  }
  sqlite3_busy_timeout(db_, 5000);
  auto prepare = [](sqlite3* db, const char* sql, sqlite3_stmt** st) {
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) == SQLITE_OK;
  };
  if (!prepare(db_, "INSERT OR REPLACE INTO blocks VALUES(?,?,?,?,?,?,?,?,?,?,?)", &putBlock_) ||
      !prepare(db_, "INSERT OR IGNORE INTO keys(client, seq, id) VALUES(?,?,?)", &putKey_) ||
      !prepare(db_, "UPDATE meta SET value = ?2 WHERE key = ?1", &setMeta_))
    return sqliteError("prepare", db_);
  indexed_.store(scalar(db_, "SELECT value FROM meta WHERE key = 'indexed'"));
  kept_.store(scalar(db_, "SELECT value FROM meta WHERE key = 'kept'"));
  cursor_ = {scalar(db_, "SELECT value FROM meta WHERE key = 'segment'"),
             static_cast<uint64_t>(scalar(db_, "SELECT value FROM meta WHERE key = 'offset'"))};
  if (sqlite3_open_v2(path.c_str(), &keyDb_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
          SQLITE_OK ||
      !prepare(keyDb_, "SELECT 1 FROM keys WHERE client = ?1 AND seq = ?2", &findKey_))
    return sqliteError("open " + path, keyDb_);
  sqlite3_busy_timeout(keyDb_, 5000);
  return {};
}

bool LogStore::keyIndexed(const LogRecord& r) {
  sqlite3_bind_text(findKey_, 1, r.client.data(), static_cast<int>(r.client.size()), SQLITE_STATIC);
  sqlite3_bind_int64(findKey_, 2, r.seq);
  bool found = sqlite3_step(findKey_) == SQLITE_ROW;
  sqlite3_reset(findKey_);
  // On an error the log is written: stored twice rather than lost.
  return found;
}

void LogStore::indexerLoop() {
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kIndexerNice);
  Journal::Cursor cursor = cursor_;
  Block block, fresh;
  int64_t lastSealNs = 0;
  const bool retaining = options_.retentionSec > 0 || options_.maxBytes > 0;
  // false: stopping. SQLite busy, or the disk full: the same block again until it goes in
  // (the journal holds it meanwhile, and the writer stops at maxIndexLag).
  auto sealBlock = [&] {
    while (!seal(block, {block.span.segment, block.span.end})) {
      indexErrors_.fetch_add(1, std::memory_order_relaxed);
      std::unique_lock<std::mutex> lock(indexMutex_);
      if (indexWake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopIndex_; }))
        return false;
    }
    lastSealNs = nowNs();
    forgetKeys(block.keyed);
    block.keyed.clear();
    block.dirty = false;
    if (retaining) retain();
    {
      std::lock_guard<std::mutex> lock(indexMutex_);
      if (block.count > 0) indexed_.store(block.lastId);
    }
    indexDone_.notify_all();  // waitIndexed(): indexed, and retention has had its turn
    return true;
  };
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(indexMutex_);
      auto ready = [&] {
        return stopIndex_ || journal_->lagBytes() > 0 || (block.dirty && sealWanted_.load() > 0);
      };
      if (block.dirty)
        indexWake_.wait_for(lock, std::chrono::nanoseconds(kResealNs), ready);
      else if (retaining)  // retention's turn comes on an idle store too
        indexWake_.wait_for(lock, std::chrono::seconds(1), ready);
      else
        indexWake_.wait(lock, ready);
      if (stopIndex_) return;
    }
    Journal::Span span{cursor.segment, cursor.offset, cursor.offset};
    size_t room = static_cast<size_t>(kBlockRecords - std::min(block.count, kBlockRecords - 1));
    fresh.clear();
    auto add = [&](const RecordView& r) { fresh.add(r); };
    bool readOk = journal_->read(cursor, indexed_.load(), room, add, &span).ok();
    if (!readOk) {
      indexErrors_.fetch_add(1, std::memory_order_relaxed);
      if (fresh.count == 0) {  // open(2) or read(2) failed (EMFILE, EIO): later, not in a spin
        std::unique_lock<std::mutex> lock(indexMutex_);
        if (indexWake_.wait_for(lock, std::chrono::milliseconds(100),
                                [this] { return stopIndex_; }))
          return;
      }
    }
    if (fresh.count > 0 && options_.indexDelaySec > 0) {
      std::unique_lock<std::mutex> lock(indexMutex_);
      if (indexWake_.wait_for(lock, std::chrono::duration<double>(options_.indexDelaySec),
                              [this] { return stopIndex_; }))
        return;
    }
    if (span.end > span.begin) {
      fresh.span = span;
      bool joins = span.segment == block.span.segment && span.begin == block.span.end;
      if (!joins && (block.count > 0 || block.dirty)) {
        // A block is one run of one segment's bytes: a new segment starts a new block.
        if (block.dirty && !sealBlock()) return;
        block.clear();
      }
      if (block.count == 0 && !block.dirty) block.span = {span.segment, span.begin, span.begin};
      block.join(fresh);
    }
    bool full = block.count >= kBlockRecords || block.span.end - block.span.begin >= kBlockBytes;
    bool due = journal_->lagBytes() == 0 && nowNs() - lastSealNs >= kResealNs;
    if (block.dirty && (full || due || sealWanted_.load() > 0)) {
      if (!sealBlock()) return;
      if (full) block.clear();
    } else if (retaining && fresh.count == 0 && !block.dirty) {
      retain();  // idle (at most once a second: retain() keeps its own pace)
    }
    // The writer may be waiting for the lag to shrink. It tests the lag under mutex_, so
    // taking mutex_ between the change and the notify means it cannot miss it.
    {
      std::lock_guard<std::mutex> lock(mutex_);
    }
    wake_.notify_all();
  }
}

bool LogStore::seal(const Block& b, const Journal::Cursor& cursor) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
  bool ok = true;
  if (b.count > 0) {
    std::string bloom = buildBloom(b.words);
    int64_t values[] = {b.firstId,
                        b.lastId,
                        b.count,
                        b.span.segment,
                        static_cast<int64_t>(b.span.begin),
                        static_cast<int64_t>(b.span.end),
                        b.minTime,
                        b.maxTime,
                        b.maxReceived,
                        b.levels};
    for (int i = 0; i < 10; ++i) sqlite3_bind_int64(putBlock_, i + 1, values[i]);
    sqlite3_bind_blob(putBlock_, 11, bloom.data(), static_cast<int>(bloom.size()), SQLITE_STATIC);
    ok = step(putBlock_);
  }
  for (const LogRecord& r : b.keyed) {
    if (!ok) break;
    sqlite3_bind_text(putKey_, 1, r.client.data(), static_cast<int>(r.client.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(putKey_, 2, r.seq);
    sqlite3_bind_int64(putKey_, 3, r.id);
    ok = step(putKey_);
  }
  auto setMeta = [&](const char* key, int64_t value) {
    sqlite3_bind_text(setMeta_, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(setMeta_, 2, value);
    return step(setMeta_);
  };
  ok = ok && (b.count == 0 || setMeta("indexed", b.lastId)) && setMeta("segment", cursor.segment) &&
       setMeta("offset", static_cast<int64_t>(cursor.offset));
  if (ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return true;
  // A failed COMMIT may leave the transaction open, and every later BEGIN would fail.
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return false;
}

int64_t LogStore::committedId() const { return journal_->lastId(); }

bool LogStore::waitIndexed(int64_t target, double timeoutSec) {
  std::unique_lock<std::mutex> lock(indexMutex_);
  sealWanted_.fetch_add(1);  // under the lock: the indexer tests it before it sleeps
  indexWake_.notify_all();
  bool done = indexDone_.wait_for(lock, std::chrono::duration<double>(timeoutSec),
                                  [&] { return indexed_.load() >= target; });
  sealWanted_.fetch_sub(1);
  return done;
}

int64_t LogStore::countIn(const Journal::Span& span, int64_t from, int64_t to) {
  int64_t n = 0;
  (void)journal_->scan(span, from - 1, [&](LogRecord&& r) {
    if (r.id >= to) return false;
    ++n;
    return true;
  });
  return n;
}

void LogStore::retain() {
  int64_t now = nowNs();
  if (now - lastRetainNs_ < 1000000000) return;
  lastRetainNs_ = now;
  int64_t kept = kept_.load();
  // The blocks from the one holding `kept` on, oldest first, read only as far as needed:
  // the walk stops at the cutoff and at the bytes to drop, not at the end of the index.
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT first_id, last_id, count, max_received, seg, lo, hi FROM blocks "
                         "WHERE last_id >= ?1 AND first_id >= IFNULL((SELECT MAX(first_id) "
                         "FROM blocks WHERE first_id <= ?1), 0) ORDER BY first_id",
                         -1, &st, nullptr) != SQLITE_OK) {
    sqlite3_finalize(st);
    return;
  }
  sqlite3_bind_int64(st, 1, kept);
  struct Row {
    int64_t first, last, count, maxReceived;
    Journal::Span span;
  };
  std::vector<Row> rows;  // rows[i] fetched on demand
  bool more = true;       // a step after the last row would start the statement over
  auto fetch = [&](size_t i) {
    while (rows.size() <= i && more && (more = sqlite3_step(st) == SQLITE_ROW)) {
      auto col = [&](int c) { return sqlite3_column_int64(st, c); };
      rows.push_back({col(0),
                      col(1),
                      col(2),
                      col(3),
                      {col(4), static_cast<uint64_t>(col(5)), static_cast<uint64_t>(col(6))}});
    }
    return rows.size() > i;
  };
  int64_t newKept = kept;
  size_t whole = 0;  // rows[0, whole) go entirely
  if (options_.retentionSec > 0) {
    int64_t cutoff = wallMs() - static_cast<int64_t>(options_.retentionSec * 1000);
    while (fetch(whole) && rows[whole].maxReceived < cutoff) newKept = rows[whole++].last + 1;
    if (fetch(whole)) {
      // Logs are received in id order (ids are given as they arrive): the first received
      // at or after the cutoff ends what goes.
      (void)journal_->scan(rows[whole].span, newKept - 1, [&](LogRecord&& r) {
        if (r.receivedMs >= cutoff) return false;
        newKept = r.id + 1;
        return true;
      });
    }
  }
  if (options_.maxBytes > 0 && fetch(whole)) {
    // The journal from the first block kept on, and the index's pages; the newest block
    // always stays.
    int64_t used = static_cast<int64_t>(
                       journal_->bytesFrom({rows[whole].span.segment, rows[whole].span.begin})) +
                   (scalar(db_, "PRAGMA page_count") - scalar(db_, "PRAGMA freelist_count")) *
                       scalar(db_, "PRAGMA page_size");
    auto bound = static_cast<int64_t>(static_cast<double>(options_.maxBytes) * 0.9);
    if (used > options_.maxBytes) {
      for (; used > bound && fetch(whole + 1); ++whole) {
        used -= static_cast<int64_t>(rows[whole].span.end - rows[whole].span.begin);
        newKept = std::max(newKept, rows[whole].last + 1);
      }
    }
  }
  sqlite3_finalize(st);
  if (newKept <= kept) return;
  int64_t deleted = 0;
  for (const Row& r : rows) {
    if (r.first >= newKept) break;
    deleted += r.first >= kept && r.last < newKept ? r.count : countIn(r.span, kept, newKept);
  }
  (void)keepFrom(newKept, deleted);
}

bool LogStore::keepFrom(int64_t newKept, int64_t deleted) {
  bool ok = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  const char* sql[] = {"DELETE FROM blocks WHERE first_id < ?1 AND last_id < ?1",
                       "DELETE FROM keys WHERE id < ?1",
                       "UPDATE meta SET value = ?1 WHERE key = 'kept'"};
  for (const char* q : sql) {
    sqlite3_stmt* st = nullptr;
    ok = ok && sqlite3_prepare_v2(db_, q, -1, &st, nullptr) == SQLITE_OK;
    if (ok) {
      sqlite3_bind_int64(st, 1, newKept);
      ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
  }
  if (!ok || sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    indexErrors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  kept_.store(newKept);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.deleted += static_cast<uint64_t>(deleted);
  }
  journal_->dropBefore(newKept);
  return true;
}

}  // namespace netlab::logs
