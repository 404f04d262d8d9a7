// Queries: the index's blocks say which ranges of the journal may hold a match, and only
// those are read; then the journal's not-yet-indexed tail.
#include <algorithm>
#include <cstring>
#include <deque>

#include "netlab/apps/logs/store.h"
#include "netlab/apps/logs/token_bloom.h"

namespace netlab::logs {
namespace {

// A query's byte budget: takes a row's cost off it when the row fits; a row past it ends the
// query, as the limit does.
bool spend(size_t& budget, size_t cost) {
  if (cost > budget) {
    budget = 0;
    return false;
  }
  budget -= cost;
  return true;
}

bool readMeta(sqlite3* db, int64_t& indexed, int64_t& kept) {
  sqlite3_stmt* st = nullptr;
  bool ok = sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, nullptr) == SQLITE_OK;
  int rc = SQLITE_DONE;
  while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::string_view key(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                         static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    if (key == "indexed") indexed = sqlite3_column_int64(st, 1);
    if (key == "kept") kept = sqlite3_column_int64(st, 1);
  }
  ok = ok && rc == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok;
}

// What a block's filter must hold for the block to hold a match.
std::vector<uint64_t> filterTerms(const Filter& f) {
  std::vector<uint64_t> terms;
  std::string scratch;
  forEachWord(f.keyword, scratch, [&](std::string_view w) { terms.push_back(wordHash(w)); });
  if (!f.host.empty()) terms.push_back(wordHash(f.host, 1));
  if (!f.app.empty()) terms.push_back(wordHash(f.app, 2));
  return terms;
}

// Whether `text` holds `word` (lowercase word bytes) in any ASCII case: memchr finds where
// its first byte, in either case, may start it.
bool containsCaseless(std::string_view text, const std::string& word, bool letters) {
  size_t n = word.size();
  const char* p = text.data();
  const char* end = p + text.size();
  char lower = word[0];
  char upper = lower >= 'a' && lower <= 'z' ? static_cast<char>(lower - 32) : lower;
  while (static_cast<size_t>(end - p) >= n) {
    size_t span = static_cast<size_t>(end - p) - n + 1;
    auto* a = static_cast<const char*>(std::memchr(p, lower, span));
    auto* b = upper != lower ? static_cast<const char*>(std::memchr(p, upper, span)) : nullptr;
    const char* at = !a ? b : !b ? a : std::min(a, b);
    if (!at) return false;
    size_t i = 1;
    if (letters) {
      while (i < n && kWordByte[static_cast<unsigned char>(at[i])] == word[i]) ++i;
    } else {
      while (i < n && at[i] == word[i]) ++i;
    }
    if (i == n) return true;
    p = at + 1;
  }
  return false;
}

}  // namespace

bool matches(const Filter& f, const LogRecord& r) { return Matcher(f)(r); }

Matcher::Matcher(const Filter& f) : f_(f) {
  forEachWord(f.keyword, scratch_, [&](std::string_view w) { want_.emplace_back(w); });
  if (!want_.empty()) {
    for (char c : want_[0]) caseless_ = caseless_ || (c >= 'a' && c <= 'z');
  }
}

bool Matcher::operator()(const LogRecord& r) const {
  RecordView v;
  v.level = r.level;
  v.timeMs = r.timeMs;
  v.host = r.host;
  v.app = r.app;
  v.message = r.message;
  return (*this)(v);
}

bool Matcher::operator()(const RecordView& r) const {
  if (f_.level >= 0 && r.level != f_.level) return false;
  if (f_.maxLevel >= 0 && r.level > f_.maxLevel) return false;
  if (f_.sinceMs >= 0 && r.timeMs < f_.sinceMs) return false;
  if (f_.untilMs >= 0 && r.timeMs >= f_.untilMs) return false;
  if (!f_.host.empty() && r.host != f_.host) return false;
  if (!f_.app.empty() && r.app != f_.app) return false;
  return want_.empty() || hasWords(r.message);
}

bool Matcher::hasWords(std::string_view message) const {
  const std::string& first = want_[0];
  if (!containsCaseless(message, first, caseless_)) return false;
  if (want_.size() == 1) {
    bool hit = false;
    forEachWord(message, scratch_, [&](std::string_view w) { hit = hit || w == first; });
    return hit;
  }
  size_t n = 0;
  forEachWord(message, scratch_, [&](std::string_view w) {
    if (n == have_.size())
      have_.emplace_back(w);
    else
      have_[n].assign(w);
    ++n;
  });
  for (size_t i = 0; i + want_.size() <= n; ++i) {
    if (std::equal(want_.begin(), want_.end(), have_.begin() + static_cast<long>(i))) return true;
  }
  return false;
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
  std::string path = dir_ + "/index.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 5000);
  // A query reads every block's row (its filter inline, up to 32 KiB): mapped, those pages
  // are read where the kernel caches them, not copied into SQLite's page cache first.
  sqlite3_exec(db, "PRAGMA mmap_size=4294967296", nullptr, nullptr, nullptr);
  return db;
}

void LogStore::giveBack(sqlite3* db) {
  std::lock_guard<std::mutex> lock(readMutex_);
  readers_.push_back(db);
}

Status LogStore::queryBlocks(sqlite3* db, const Filter& f, int64_t after, size_t limit,
                             size_t& budget, std::vector<LogRecord>& rows) {
  if (limit == 0 || budget == 0) return {};
  // Blocks hold disjoint runs of ids in first_id order: the one holding `after` + 1 starts
  // at the largest first_id up to it, so the primary key bounds the walk (a caught-up
  // forwarder's poll reads one or two rows, not the whole table).
  std::string sql =
      "SELECT seg, lo, hi, bloom FROM blocks WHERE last_id > ?1 AND first_id >= "
      "IFNULL((SELECT MAX(first_id) FROM blocks WHERE first_id <= ?1), 0)";
  uint32_t levels = 0xff;
  if (f.level >= 0) levels &= 1u << (f.level & 7);
  if (f.maxLevel >= 0) levels &= (2u << (f.maxLevel & 7)) - 1;
  if (levels != 0xff) sql += " AND levels & ?2";
  if (f.sinceMs >= 0) sql += " AND max_ts >= ?3";
  if (f.untilMs >= 0) sql += " AND min_ts < ?4";
  sql += f.oldestFirst ? " ORDER BY first_id" : " ORDER BY first_id DESC";
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    sqlite3_finalize(st);
    return sqliteError("query", db);
  }
  sqlite3_bind_int64(st, 1, after);
  sqlite3_bind_int64(st, 2, levels);
  sqlite3_bind_int64(st, 3, f.sinceMs);
  sqlite3_bind_int64(st, 4, f.untilMs);
  std::vector<uint64_t> terms = filterTerms(f);
  Matcher matches(f);
  std::vector<LogRecord> newestFirst;
  size_t found = 0;
  Status out;
  int rc = SQLITE_DONE;
  std::string buf;
  std::vector<RecordView> views;
  auto take = [&](const RecordView& view, std::vector<LogRecord>& into) {
    LogRecord r = view.copy();
    if (!spend(budget, rowBytes(r))) return false;
    into.push_back(std::move(r));
    ++found;
    return true;
  };
  while (found < limit && budget > 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const void* bloom = sqlite3_column_blob(st, 3);
    auto bytes = static_cast<size_t>(sqlite3_column_bytes(st, 3));
    bool may = true;
    for (uint64_t t : terms) may = may && bloomMayHold(bloom, bytes, t);
    if (!may) continue;
    Journal::Span span{sqlite3_column_int64(st, 0),
                       static_cast<uint64_t>(sqlite3_column_int64(st, 1)),
                       static_cast<uint64_t>(sqlite3_column_int64(st, 2))};
    out = journal_->read(span, after, buf, views);
    if (!out.ok()) break;
    // Tested from the end the query wants: newest first stops at the limit without testing
    // the rest of the block.
    if (f.oldestFirst) {
      for (size_t i = 0; i < views.size() && found < limit; ++i) {
        if (matches(views[i]) && !take(views[i], rows)) break;
      }
    } else {
      for (size_t i = views.size(); i-- > 0 && found < limit;) {
        if (matches(views[i]) && !take(views[i], newestFirst)) break;
      }
    }
  }
  if (out.ok() && found < limit && budget > 0 && rc != SQLITE_DONE) out = sqliteError("query", db);
  sqlite3_finalize(st);
  rows.insert(rows.end(), std::make_move_iterator(newestFirst.rbegin()),
              std::make_move_iterator(newestFirst.rend()));
  return out;
}

Result<std::vector<LogRecord>> LogStore::query(const Filter& f) {
  // The journal's view first, then the index's snapshot: the view holds every segment with
  // ids above the position read before it, and the snapshot's position is at least that.
  auto view = journal_->view(indexed_.load());
  if (!view.ok()) return view.error();
  sqlite3* db = readConnection();
  if (!db) return Error{EIO, "cannot open " + dir_ + "/index.db for reading"};
  int64_t indexed = 0, kept = 1;
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK ||
      !readMeta(db, indexed, kept)) {
    Error e = sqliteError("query", db);
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    giveBack(db);
    return e;
  }
  int64_t after = std::max(f.afterId, kept - 1);
  int64_t tailAfter = std::max(after, indexed);
  const Journal::View& v = view.value();
  std::vector<LogRecord> rows;
  Status st;
  Matcher matches(f);
  size_t budget = f.maxBytes > 0 ? f.maxBytes : SIZE_MAX;
  if (f.oldestFirst) {
    st = queryBlocks(db, f, after, f.limit, budget, rows);
    for (size_t i = 0; st.ok() && i < v.parts() && rows.size() < f.limit && budget > 0; ++i) {
      st = v.scan(i, tailAfter, [&](LogRecord&& r) {
        if (!matches(r)) return true;
        if (!spend(budget, rowBytes(r))) return false;
        rows.push_back(std::move(r));
        return rows.size() < f.limit && budget > 0;
      });
    }
  } else {
    // The tail's newest matches, newest segment first, then as many of the blocks' (all
    // older) as the limit and the budget leave room for.
    std::vector<LogRecord> newest;
    for (size_t i = v.parts(); st.ok() && i-- > 0 && newest.size() < f.limit && budget > 0;) {
      std::deque<LogRecord> part;
      size_t partBytes = 0;
      bool full = false;  // the budget ran out within this segment: nothing older fits
      st = v.scan(i, tailAfter, [&](LogRecord&& r) {
        if (!matches(r)) return true;
        partBytes += rowBytes(r);
        part.push_back(std::move(r));
        while (!part.empty() && (part.size() > f.limit - newest.size() || partBytes > budget)) {
          full = full || partBytes > budget;
          partBytes -= rowBytes(part.front());
          part.pop_front();
        }
        return true;
      });
      budget = full ? 0 : budget - partBytes;
      newest.insert(newest.begin(), std::make_move_iterator(part.begin()),
                    std::make_move_iterator(part.end()));
    }
    if (st.ok()) st = queryBlocks(db, f, after, f.limit - newest.size(), budget, rows);
    rows.insert(rows.end(), std::make_move_iterator(newest.begin()),
                std::make_move_iterator(newest.end()));
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  giveBack(db);
  if (!st.ok()) return st.error();
  return rows;
}

}  // namespace netlab::logs
