// LogServer's pieces without sockets: levels and timestamps, the query grammar, and the
// store's group commit and queries in a temporary directory.
#include <gtest/gtest.h>

#include <cstdlib>

#include "netlab/apps/logs/query_handler.h"
#include "netlab/apps/logs/record.h"
#include "netlab/apps/logs/store.h"
#include "netlab/apps/logs/syslog.h"
#include "netlab/client/log_sender.h"
#include "temp_dir.h"

namespace netlab::logs {
namespace {

TEST(LogRecord, LevelsByNameOrDigit) {
  EXPECT_EQ(parseLevel("error"), 3);
  EXPECT_EQ(parseLevel("FATAL"), 2);
  EXPECT_EQ(parseLevel("Warning"), 4);
  EXPECT_EQ(parseLevel("7"), 7);
  EXPECT_FALSE(parseLevel("8"));
  EXPECT_FALSE(parseLevel("LOUD"));
  EXPECT_EQ(levelName(4), "WARN");
}

TEST(LogRecord, TimestampsInAndOut) {
  EXPECT_EQ(parseTimestamp("1700000000"), 1700000000000);
  EXPECT_EQ(parseTimestamp("1700000000.25"), 1700000000250);
  EXPECT_EQ(parseTimestamp("2026-11-23T10:00:00Z"), 1795428000000);
  EXPECT_EQ(parseTimestamp("2026-11-23 10:00:00.5"), 1795428000500);
  EXPECT_EQ(parseTimestamp("2026-11-23T11:30:00+01:30"), 1795428000000);
  for (const char* bad : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-11-23T10:00:00+1", "1.2.3",
                          "2026-11-23T10:00:00.Z"}) {
    EXPECT_FALSE(parseTimestamp(bad)) << bad;
  }
  EXPECT_EQ(formatTimestamp(1795428000123), "2026-11-23T10:00:00.123Z");
}

TEST(LogRecord, EscapesRoundTrip) {
  std::string message = "a\\n is not\na newline\r\n\\";
  EXPECT_EQ(escapeMessage(message).find('\n'), std::string::npos);
  EXPECT_EQ(unescapeMessage(escapeMessage(message)), message);
  EXPECT_EQ(unescapeMessage("odd \\x and trailing \\"), "odd \\x and trailing \\");
  EXPECT_EQ(parseSequence("42"), 42);
  EXPECT_FALSE(parseSequence("-1"));
  EXPECT_FALSE(parseSequence("1234567890123456789"));
  EXPECT_TRUE(validClientId("fwd-0a1b"));
  EXPECT_FALSE(validClientId("a b"));
  EXPECT_FALSE(validClientId("a|b"));
}

TEST(LogRecord, Rfc5424FormParsesBack) {
  LogRecord r;
  r.level = 3;
  r.timeMs = 1795428000123;
  r.host = "web 01";  // a space is not allowed in HOSTNAME
  r.app = "";
  r.message = "disk full";
  std::string text = rfc5424(r);
  EXPECT_EQ(text, "<11>1 2026-11-23T10:00:00.123Z web_01 - - - - disk full");
  LogRecord back;
  ASSERT_TRUE(parseSyslog(text, 0, back));
  EXPECT_EQ(back.level, 3);
  EXPECT_EQ(back.timeMs, r.timeMs);
  EXPECT_EQ(back.host, "web_01");
  EXPECT_EQ(back.message, "disk full");
  EXPECT_EQ(keyedLine(r, 7), "LOGK|7|ERROR|2026-11-23T10:00:00.123Z|web_01||disk full\n");
}

TEST(LogSender, UpstreamLists) {
  auto list = parseUpstreams("logs://tok@127.0.0.1:9999, syslog://[::1]:514 h:1", "binary");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 3u);
  EXPECT_EQ(list.value()[0].token, "tok");
  EXPECT_EQ(list.value()[1].host, "::1");
  EXPECT_EQ(list.value()[1].text(), "syslog://[::1]:514");
  EXPECT_EQ(list.value()[2].protocol, "binary");
  EXPECT_FALSE(parseUpstreams("", "logs").ok());
  EXPECT_FALSE(parseUpstreams("udp://h:1", "logs").ok());
  EXPECT_FALSE(parseUpstreams("h:70000", "logs").ok());
  EXPECT_FALSE(parseUpstreams("h", "logs").ok());
}

TEST(QueryGrammar, GuideFormsAndFilters) {
  Filter f;
  EXPECT_EQ(parseFilter("KEYWORD|disk full", 1000, f), "");
  EXPECT_EQ(f.keyword, "disk full");
  EXPECT_EQ(parseFilter("LEVEL|err", 1000, f), "");
  EXPECT_EQ(f.level, 3);
  EXPECT_EQ(
      parseFilter("keyword=a|max_level=warn|since=1|until=2|host=h|app=x|limit=5000", 1000, f), "");
  EXPECT_EQ(f.maxLevel, 4);
  EXPECT_EQ(f.sinceMs, 1000);
  EXPECT_EQ(f.limit, 1000u);  // capped at max_results
  EXPECT_NE(parseFilter("limit=0", 1000, f), "");
  EXPECT_NE(parseFilter("colour=red", 1000, f), "");
  EXPECT_NE(parseFilter("LEVEL|", 1000, f), "");
  std::string row;
  LogRecord r;
  r.id = 7;
  r.level = 3;
  r.timeMs = 0;
  r.message = "two\nlines \\ here";
  appendRow(row, r);
  EXPECT_EQ(row, "7|ERROR|1970-01-01T00:00:00.000Z|two\\nlines \\\\ here\n");
}

TEST(Syslog, Rfc5424AndRfc3164) {
  LogRecord r;
  EXPECT_TRUE(parseSyslog("<165>1 2026-11-23T10:00:00Z web01 nginx 42 ID - upstream slow", 0, r));
  EXPECT_EQ(r.level, 5);
  EXPECT_EQ(r.host, "web01");
  EXPECT_EQ(r.app, "nginx");
  EXPECT_EQ(r.message, "upstream slow");
  EXPECT_EQ(r.timeMs, 1795428000000);
  LogRecord b;
  int64_t now = 1795428000000;  // 2026-11-23
  EXPECT_TRUE(parseSyslog("<34>Nov 23 10:00:01 db01 postgres[7]: checkpoint", now, b));
  EXPECT_EQ(b.level, 2);
  EXPECT_EQ(b.app, "postgres");
  EXPECT_EQ(b.message, "checkpoint");
  EXPECT_EQ(b.timeMs, now + 1000);
  LogRecord dec;  // December's message read on the 1st of January: last year's
  EXPECT_TRUE(parseSyslog("<34>Dec 31 23:59:59 h a: m", 1798761600000, dec));
  EXPECT_EQ(dec.timeMs, 1798761599000);
  for (const char* bad : {"no pri", "<>x", "<192>1 - - - - - - x", "<13>2 - - - - - - x",
                          "<13>1 - - - - - [unclosed x", "<13>garbage",
                          // an escape as the last byte once read past the end of the message
                          "<13>1 - h a p m [x y=\"\\", "<13>1 - h a p m [x y=\"\\\\\"\\"}) {
    LogRecord raw;
    EXPECT_FALSE(parseSyslog(bad, now, raw)) << bad;
    EXPECT_EQ(raw.message, bad);
    EXPECT_TRUE(raw.flags & kParseError);
  }
}

TEST(Syslog, StructuredDataEscapes) {
  LogRecord r;
  EXPECT_TRUE(parseSyslog("<13>1 - h a p m [x y=\"a\\\"]\\\\\"][z] text", 0, r));
  EXPECT_EQ(r.message, "[x y=\"a\\\"]\\\\\"][z] text");
  LogRecord end;  // structured data that ends the message
  EXPECT_TRUE(parseSyslog("<13>1 - h a p m [x y=\"\\]\"]", 0, end));
  EXPECT_EQ(end.message, "[x y=\"\\]\"]");
}

TEST(LogStore, TailFilterMatchesWholeWords) {
  Filter f;
  f.keyword = "payment failed";
  LogRecord r;
  r.message = "Payment FAILED: card declined";
  EXPECT_TRUE(matches(f, r));
  r.message = "payments failed";
  EXPECT_FALSE(matches(f, r));
  f.maxLevel = 3;
  r.message = "payment-failed";
  r.level = 4;
  EXPECT_FALSE(matches(f, r));
  r.level = 3;
  EXPECT_TRUE(matches(f, r));
}

TEST(LogStore, GroupCommitThenQuery) {
  char tmpl[] = "/tmp/netlab-logs-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  {
    StoreOptions o;
    o.dir = dir;
    auto store = LogStore::open(o);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto again = LogStore::open(o);  // one store per directory in a process
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(store.value().get(), again.value().get());
    for (int i = 0; i < 1000; ++i) {
      LogRecord r;
      r.level = i % 8;
      r.timeMs = 1000 * i;
      r.message = "message " + std::to_string(i) + (i % 100 == 0 ? " rare-word" : "");
      r.client = "c1";
      r.seq = i % 500;  // the second half repeats the first's keys: stored once
      EXPECT_EQ(store.value()->append(std::move(r), nullptr), i + 1);
    }
    store.value()->flush();
    EXPECT_EQ(store.value()->stats().stored, 500u);
    EXPECT_EQ(store.value()->stats().duplicates, 500u);
    Filter f;
    f.keyword = "rare-word";
    auto rows = store.value()->query(f);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows.value().size(), 5u);
    EXPECT_EQ(rows.value().front().id, 1);
    f = Filter{};
    f.level = 0;
    f.sinceMs = 100000;
    f.limit = 3;
    rows = store.value()->query(f);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows.value().size(), 3u);
    EXPECT_EQ(rows.value().back().id, 497);  // the newest matches, oldest first
  }
  std::system(("rm -rf " + dir).c_str());
}

// A query reads no more rows than its answer can hold (the query port's 16 MiB), whatever
// its limit: from the journal's tail and from the indexed blocks alike.
TEST(LogStore, QueriesStopAtTheirByteBudget) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path;
  auto store = LogStore::open(o);
  ASSERT_TRUE(store.ok()) << store.error().message;
  LogStore& s = *store.value();
  for (int i = 0; i < 10; ++i) {
    LogRecord r;
    r.message = std::string(100'000, static_cast<char>('a' + i));
    s.append(std::move(r), nullptr);
  }
  s.flush();
  auto ids = [&](bool oldestFirst, size_t maxBytes) {
    Filter f;
    f.limit = 100;
    f.oldestFirst = oldestFirst;
    f.maxBytes = maxBytes;
    std::vector<int64_t> out;
    auto rows = s.query(f);
    EXPECT_TRUE(rows.ok());
    if (rows.ok()) {
      for (const LogRecord& r : rows.value()) out.push_back(r.id);
    }
    return out;
  };
  for (int pass = 0; pass < 2; ++pass) {  // as soon as committed, then from the index
    SCOPED_TRACE(pass == 0 ? "committed" : "indexed");
    EXPECT_EQ(ids(false, 350'000), (std::vector<int64_t>{8, 9, 10}));
    EXPECT_EQ(ids(true, 350'000), (std::vector<int64_t>{1, 2, 3}));
    EXPECT_EQ(ids(false, 50'000), std::vector<int64_t>{});  // not even one row fits
    EXPECT_EQ(ids(false, 0).size(), 10u);
    ASSERT_TRUE(s.waitIndexed(s.committedId(), 30));
  }
}

}  // namespace
}  // namespace netlab::logs
