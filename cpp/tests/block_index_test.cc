// The block index: the token filter's promises (no false negatives, few false positives,
// folded small when words repeat), the journal spans blocks point at, and a store whose
// queries, restarts and retention go through blocks.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "netlab/apps/logs/journal.h"
#include "netlab/apps/logs/store.h"
#include "netlab/apps/logs/token_bloom.h"
#include "temp_dir.h"

namespace netlab::logs {
namespace {

TEST(TokenBloom, HoldsEveryWordAndFewOthers) {
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 10000; ++i) hashes.push_back(wordHash("word" + std::to_string(i)));
  std::string bloom = buildBloom(hashes);
  for (uint64_t h : hashes) ASSERT_TRUE(bloomMayHold(bloom.data(), bloom.size(), h));
  int falseHits = 0;
  for (int i = 0; i < 100000; ++i)
    falseHits += bloomMayHold(bloom.data(), bloom.size(), wordHash("other" + std::to_string(i)));
  EXPECT_LT(falseHits, 100);                                                     // under 0.1%
  EXPECT_FALSE(bloomMayHold(bloom.data(), bloom.size(), wordHash("word1", 1)));  // tags apart
}

TEST(TokenBloom, RepeatedWordsFoldSmall) {
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 20000; ++i) hashes.push_back(wordHash("same" + std::to_string(i % 10)));
  std::string bloom = buildBloom(hashes);
  EXPECT_LE(bloom.size(), 64u);
  EXPECT_TRUE(bloomMayHold(bloom.data(), bloom.size(), wordHash("same7")));
  EXPECT_TRUE(bloomMayHold("", 0, 1));  // no filter: no skipping
}

TEST(TokenBloom, WordsAreLowercasedRuns) {
  std::vector<std::string> words;
  std::string scratch;
  forEachWord("GET /api/v2?id=42 Ärger-free", scratch,
              [&](std::string_view w) { words.emplace_back(w); });
  EXPECT_EQ(words,
            (std::vector<std::string>{"get", "api", "v2", "id", "42", "\xc3\x84rger", "free"}));
}

LogRecord record(int64_t id, std::string message) {
  LogRecord r;
  r.id = id;
  r.receivedMs = id;
  r.message = std::move(message);
  return r;
}

TEST(Journal, ReadReportsItsSpanAndScanReadsItBack) {
  TempDir dir;
  auto opened = Journal::open(dir.path, false, 0, [](const LogRecord&) {});
  ASSERT_TRUE(opened.ok());
  Journal& j = *opened.value();
  for (int64_t id = 1; id <= 30; id += 10) {
    std::vector<LogRecord> rs;
    for (int64_t i = id; i < id + 10; ++i) rs.push_back(record(i, "m" + std::to_string(i)));
    std::vector<const LogRecord*> ptrs;
    for (const LogRecord& r : rs) ptrs.push_back(&r);
    ASSERT_TRUE(j.append(ptrs).ok());
  }
  Journal::Cursor cursor;
  std::vector<LogRecord> out;
  Journal::Span first, second;
  ASSERT_TRUE(j.read(cursor, 0, 15, out, &first).ok());
  EXPECT_EQ(out.size(), 20u);
  EXPECT_EQ(first.begin, 0u);
  EXPECT_EQ(first.end, cursor.offset);
  out.clear();
  ASSERT_TRUE(j.read(cursor, 0, 15, out, &second).ok());
  EXPECT_EQ(second.begin, first.end);
  std::vector<int64_t> ids;
  ASSERT_TRUE(j.scan(first, 5, [&](LogRecord&& r) {
                 ids.push_back(r.id);
                 return r.id < 12;
               }).ok());
  EXPECT_EQ(ids, (std::vector<int64_t>{6, 7, 8, 9, 10, 11, 12}));
  // A reader starting again at the second span has only its bytes left to read.
  j.startAt({second.segment, second.begin});
  EXPECT_EQ(j.lagBytes(), second.end - second.begin);
  // A span of a segment gone (retention) reads as empty.
  Journal::Span gone{999, 0, 100};
  EXPECT_TRUE(j.scan(gone, 0, [](LogRecord&&) { return true; }).ok());
}

Result<std::shared_ptr<LogStore>> openStore(const StoreOptions& o) { return LogStore::open(o); }

void append(LogStore& store, int from, int to, const std::string& text) {
  for (int i = from; i < to; ++i) {
    LogRecord r;
    r.level = i % 7 == 0 ? 3 : 6;
    r.host = i % 2 ? "web1" : "web2";
    r.message = text + " event n" + std::to_string(i);
    store.append(std::move(r), nullptr);
  }
  store.flush();
}

uint64_t apparentSize(const std::string& path) {
  struct stat sb;
  return ::stat(path.c_str(), &sb) == 0 ? static_cast<uint64_t>(sb.st_size) : 0;
}

// Every id a query of everything returns, in its order.
std::vector<int64_t> allIds(LogStore& store) {
  Filter f;
  f.limit = 1000000;
  auto rows = store.query(f);
  EXPECT_TRUE(rows.ok());
  std::vector<int64_t> ids;
  for (const LogRecord& r : rows.value()) ids.push_back(r.id);
  return ids;
}

TEST(LogStore, QueriesSkipBlocksThatCannotMatchAndFindTheRest) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path;
  auto opened = openStore(o);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  LogStore& store = *opened.value();
  append(store, 0, 20000, "Common");  // about five blocks
  ASSERT_TRUE(store.waitIndexed(store.committedId(), 30));
  EXPECT_EQ(store.stats().unindexed, 0);
  Filter f;
  f.keyword = "n12345";
  auto rows = store.query(f);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows.value().size(), 1u);
  EXPECT_EQ(rows.value()[0].id, 12346);
  f.keyword = "COMMON event";
  f.limit = 5000;  // across blocks, newest first, returned oldest first
  rows = store.query(f);
  ASSERT_EQ(rows.value().size(), 5000u);
  EXPECT_EQ(rows.value().front().id, 15001);
  EXPECT_EQ(rows.value().back().id, 20000);
  f.oldestFirst = true;
  f.afterId = 4090;
  rows = store.query(f);
  ASSERT_EQ(rows.value().size(), 5000u);
  EXPECT_EQ(rows.value().front().id, 4091);
  EXPECT_EQ(rows.value().back().id, 9090);
  f = Filter{};
  f.level = 3;
  f.host = "web1";
  f.limit = 100000;
  rows = store.query(f);
  ASSERT_TRUE(rows.ok());
  // i % 7 == 0 and odd i: ids i + 1 for i = 7, 21, 35, ...
  EXPECT_EQ(rows.value().size(), 1429u);
  EXPECT_EQ(rows.value().front().id, 8);
  f = Filter{};
  f.keyword = "absent";
  EXPECT_TRUE(store.query(f).value().empty());
}

TEST(LogStore, ARestartResumesIndexingWhereItStopped) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path;
  {
    auto opened = openStore(o);
    ASSERT_TRUE(opened.ok());
    append(*opened.value(), 0, 6000, "before");
    ASSERT_TRUE(opened.value()->waitIndexed(opened.value()->committedId(), 30));
  }
  auto opened = openStore(o);
  ASSERT_TRUE(opened.ok());
  LogStore& store = *opened.value();
  EXPECT_EQ(store.stats().unindexed, 0);
  EXPECT_EQ(store.stats().indexLagBytes, 0u);  // nothing read twice
  append(store, 6000, 7000, "after");
  ASSERT_TRUE(store.waitIndexed(store.committedId(), 30));
  std::vector<int64_t> ids = allIds(store);
  ASSERT_EQ(ids.size(), 7000u);
  for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], static_cast<int64_t>(i + 1));
}

TEST(LogStore, RetentionBySizeDropsTheOldestBlocksAndSegments) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path;
  o.maxBytes = 4 << 20;
  auto opened = openStore(o);
  ASSERT_TRUE(opened.ok());
  LogStore& store = *opened.value();
  std::string pad(200, 'p');
  for (int round = 0; round < 4; ++round) {
    append(store, round * 10000, (round + 1) * 10000, pad);
    ASSERT_TRUE(store.waitIndexed(store.committedId(), 30));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // retention's turn
  }
  append(store, 40000, 40001, "last");
  ASSERT_TRUE(store.waitIndexed(store.committedId(), 30));
  std::vector<int64_t> ids = allIds(store);
  size_t kept = ids.size();
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, 20000u);  // about 4 MiB of some 10 MiB
  EXPECT_EQ(ids.back(), 40001);
  EXPECT_EQ(store.stats().deleted + kept, 40001u);
  for (size_t i = 1; i < kept; ++i) ASSERT_EQ(ids[i], ids[i - 1] + 1);
  // What is left on disk is within about a segment (an eighth) of the bound: every file's
  // and directory's size, as du -sb counts them.
  namespace fs = std::filesystem;
  auto bytes = static_cast<int64_t>(apparentSize(dir.path));
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir.path))
    bytes += static_cast<int64_t>(apparentSize(e.path().string()));
  EXPECT_LT(bytes, (4 << 20) * 9 / 8 + (2 << 20)) << "the index's WAL, up to 2 MiB, included";
}

// How many segment files the store's journal has.
size_t segments(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/journal"))
    n += e.path().extension() == ".seg";
  return n;
}

TEST(LogStore, RetentionByAgeRunsOnAQuietStoreAndItsDiskIsFreed) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path;
  o.retentionSec = 1;
  auto opened = openStore(o);
  ASSERT_TRUE(opened.ok());
  LogStore& store = *opened.value();
  append(store, 0, 100, "old");
  ASSERT_TRUE(store.waitIndexed(store.committedId(), 30));
  // No log comes: retention still has its turn, and every log expires.
  for (int i = 0; i < 50 && store.stats().deleted < 100; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(store.stats().deleted, 100u);
  EXPECT_TRUE(allIds(store).empty());
  EXPECT_EQ(segments(dir.path), 1u);  // expired, but still the segment being written
  // The next log starts a new segment, and the expired one goes at retention's next turn.
  append(store, 100, 101, "new");
  EXPECT_EQ(allIds(store), (std::vector<int64_t>{101}));
  EXPECT_EQ(segments(dir.path), 2u);
  for (int i = 0; i < 50 && segments(dir.path) != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(segments(dir.path), 1u);
}

}  // namespace
}  // namespace netlab::logs
