// Queries: SQLite for what is indexed, the journal for what is not yet.
#include <cctype>
#include <deque>

#include "netlab/apps/logs/store.h"

namespace netlab::logs {
namespace {

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

bool position(sqlite3* db, int64_t& indexed) {
  sqlite3_stmt* st = nullptr;
  bool ok = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'indexed'", -1, &st,
                               nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW;
  if (ok) indexed = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return ok;
}

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

Status LogStore::queryIndex(const Filter& f, size_t limit, std::vector<LogRecord>& rows,
                            int64_t& indexed) {
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
  // One read transaction: the rows and the index's position from the same snapshot.
  sqlite3_stmt* st = nullptr;
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    Error e = sqliteError("query", db);
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
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
  sqlite3_bind_int64(st, 9, static_cast<int64_t>(limit));
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
  Status out = rc == SQLITE_DONE ? Status() : Status(sqliteError("query", db));
  sqlite3_finalize(st);
  if (out.ok() && !position(db, indexed)) out = sqliteError("query", db);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  giveBack(db);
  return out;
}

Result<std::vector<LogRecord>> LogStore::query(const Filter& f) {
  // The journal's segments first, then SQLite's snapshot: a segment is deleted only once
  // indexed, so every id past the snapshot's position is in one of the segments held open.
  auto view = journal_->view(indexed_.load());
  if (!view.ok()) return view.error();
  std::vector<LogRecord> rows;
  int64_t indexed = 0;
  Status st = queryIndex(f, f.limit, rows, indexed);
  if (!st.ok()) return st.error();
  int64_t after = std::max(indexed, f.afterId);
  const Journal::View& v = view.value();
  if (f.oldestFirst) {
    for (size_t i = 0; i < v.parts() && rows.size() < f.limit; ++i) {
      st = v.scan(i, after, [&](LogRecord&& r) {
        if (matches(f, r)) rows.push_back(std::move(r));
        return rows.size() < f.limit;
      });
      if (!st.ok()) return st.error();
    }
    return rows;
  }
  // The newest matches: the journal's, newest segment first, then as many of SQLite's
  // (all older) as the limit leaves room for.
  std::vector<LogRecord> newest;
  for (size_t i = v.parts(); i-- > 0 && newest.size() < f.limit;) {
    std::deque<LogRecord> part;
    st = v.scan(i, after, [&](LogRecord&& r) {
      if (!matches(f, r)) return true;
      part.push_back(std::move(r));
      if (part.size() > f.limit - newest.size()) part.pop_front();
      return true;
    });
    if (!st.ok()) return st.error();
    newest.insert(newest.begin(), std::make_move_iterator(part.begin()),
                  std::make_move_iterator(part.end()));
  }
  size_t keep = f.limit - newest.size();
  if (rows.size() > keep) rows.erase(rows.begin(), rows.end() - static_cast<long>(keep));
  rows.insert(rows.end(), std::make_move_iterator(newest.begin()),
              std::make_move_iterator(newest.end()));
  return rows;
}

}  // namespace netlab::logs
