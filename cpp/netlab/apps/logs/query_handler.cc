#include "netlab/apps/logs/query_handler.h"

#include <cctype>

namespace netlab::logs {
namespace {

bool sameWord(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool parseCount(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 12) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

std::string parseFilter(std::string_view spec, size_t maxResults, Filter& f) {
  f = Filter{};
  f.limit = std::min<size_t>(100, maxResults);
  f.maxBytes = QueryHandler::kMaxResultBytes;  // what one answer holds: no more is read
  size_t bar = spec.find('|');
  std::string_view first = spec.substr(0, bar);
  if (sameWord(first, "KEYWORD") || sameWord(first, "LEVEL")) {  // the guide's forms
    std::string_view value = bar == std::string_view::npos ? "" : spec.substr(bar + 1);
    if (value.empty()) return "missing value";
    if (sameWord(first, "KEYWORD")) {
      f.keyword = std::string(value);
      return {};
    }
    auto level = parseLevel(value);
    if (!level) return "bad level";
    f.level = *level;
    return {};
  }
  while (!spec.empty()) {
    bar = spec.find('|');
    std::string_view part = spec.substr(0, bar);
    spec = bar == std::string_view::npos ? std::string_view{} : spec.substr(bar + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return "expected key=value, got '" + std::string(part) + "'";
    std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    if (sameWord(key, "keyword")) {
      f.keyword = std::string(value);
    } else if (sameWord(key, "level") || sameWord(key, "max_level")) {
      auto level = parseLevel(value);
      if (!level) return "bad level";
      (sameWord(key, "level") ? f.level : f.maxLevel) = *level;
    } else if (sameWord(key, "since") || sameWord(key, "until")) {
      auto t = parseTimestamp(value);
      if (!t) return "bad time '" + std::string(value) + "'";
      (sameWord(key, "since") ? f.sinceMs : f.untilMs) = *t;
    } else if (sameWord(key, "host")) {
      f.host = std::string(value);
    } else if (sameWord(key, "app")) {
      f.app = std::string(value);
    } else if (sameWord(key, "limit")) {
      int64_t n = 0;
      if (!parseCount(value, n) || n < 1) return "bad limit";
      f.limit = std::min<size_t>(static_cast<size_t>(n), maxResults);
    } else {
      return "unknown key '" + std::string(key) + "'";
    }
  }
  return {};
}

void appendRow(std::string& out, const LogRecord& r) {
  out += std::to_string(r.id);
  out += '|';
  out += levelName(r.level);
  out += '|';
  out += formatTimestamp(r.timeMs);
  out += '|';
  for (char c : r.message) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  out += '\n';
}

size_t QueryHandler::onData(Conn& conn, Buffer& input) {
  size_t handled = 0;
  while (!running_ && conn.budgetLeft()) {
    std::string_view view = input.view();
    size_t nl = view.find('\n');
    if (nl == std::string_view::npos) {
      if (view.size() > kMaxLine) {
        conn.send("ERROR|line too long\n");
        conn.fail("query line too long");
      }
      return handled;
    }
    std::string line(view.substr(0, nl));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    input.consume(nl + 1);
    ++handled;
    command(conn, line);
  }
  return handled;
}

void QueryHandler::command(Conn& conn, std::string_view line) {
  if (line.empty()) return;
  if (!authed_) {  // the port wants AUTH|<token> before anything else
    if (line.substr(0, 5) == "AUTH|" && line.substr(5) == protocol_.token()) {
      authed_ = true;
      return conn.send("OK|auth\n");
    }
    protocol_.counters().badTokens.fetch_add(1, std::memory_order_relaxed);
    conn.send(line.substr(0, 5) == "AUTH|" ? "ERROR|bad token\n"
                                           : "ERROR|authentication required\n");
    return conn.fail("not authenticated");
  }
  if (line.substr(0, 5) == "TAIL|" || line == "TAIL") {
    if (tail_) return conn.send("ERROR|already tailing\n");
    Filter f;
    std::string problem = line.size() > 5 ? parseFilter(line.substr(5), SIZE_MAX, f) : "";
    if (!problem.empty()) return conn.send("ERROR|" + problem + "\n");
    conn.send("TAILING\n");
    tail_ = protocol_.store().subscribe(f, conn.outlet());
    return;
  }
  if (line.substr(0, 6) != "QUERY|") return conn.send("ERROR|unknown command\n");
  Filter f;
  std::string problem =
      parseFilter(line.substr(6), static_cast<size_t>(protocol_.options().maxResults), f);
  if (!problem.empty()) return conn.send("ERROR|" + problem + "\n");
  run(conn, std::move(f));
}

// SQLite blocks: the query runs on a query thread and its answer comes back through post().
void QueryHandler::run(Conn& conn, Filter filter) {
  running_ = true;
  conn.pauseReading();
  protocol_.counters().queries.fetch_add(1, std::memory_order_relaxed);
  auto outlet = conn.outlet();
  // The job may outlive this handler and the port, not the store: ~LogStore runs the queued
  // jobs before anything of it goes. It reaches the handler (and the port's counters) only
  // through post().
  LogStore* store = &protocol_.store();
  store->queryPool().submit([outlet, store, filter, this] {
    auto rows = store->query(filter);
    std::string out;
    size_t n = 0;
    if (!rows.ok()) {
      out = "ERROR|" + rows.error().message + "\n";
    } else {
      std::string body, row;
      for (const LogRecord& r : rows.value()) {  // as many as fit kMaxResultBytes
        row.clear();
        appendRow(row, r);
        if (body.size() + row.size() > kMaxResultBytes) break;
        body += row;
        ++n;
      }
      out = "RESULT|" + std::to_string(n) + "\n" + body + "END\n";
    }
    outlet->post([this, out = std::move(out), n](Conn& c) {
      protocol_.counters().rowsReturned.fetch_add(n, std::memory_order_relaxed);
      c.send(out);
      running_ = false;
      if (peerDone_) return c.closeAfterFlush();
      c.resumeReading();
    });
  });
}

}  // namespace netlab::logs

namespace netlab::logs {

void QueryHandler::onClose(Conn&, const CloseReason&) {
  if (tail_) protocol_.store().unsubscribe(tail_);
}

}  // namespace netlab::logs
