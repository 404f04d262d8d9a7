// LogStore's journal and index apart: batches written whole or not at all, a torn tail cut
// at recovery, and queries that read the journal's not-yet-indexed tail beside the index.
#include "netlab/apps/logs/journal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "netlab/apps/logs/store.h"
#include "temp_dir.h"

namespace netlab::logs {
namespace {

LogRecord record(int64_t id, std::string message) {
  LogRecord r;
  r.id = id;
  r.timeMs = id * 1000;
  r.receivedMs = id;
  r.level = static_cast<int>(id % 8);
  r.host = "web" + std::to_string(id % 3);
  r.app = "app";
  r.message = std::move(message);
  if (id % 2) {
    r.client = "c";
    r.seq = id;
  }
  return r;
}

Status appendBatch(Journal& j, int64_t first, int64_t last) {
  std::vector<LogRecord> rs;
  for (int64_t id = first; id <= last; ++id) rs.push_back(record(id, "m" + std::to_string(id)));
  std::vector<const LogRecord*> ptrs;
  for (const LogRecord& r : rs) ptrs.push_back(&r);
  return j.append(ptrs);
}

// Every id a view holds above `after`, oldest first.
std::vector<int64_t> allIds(const Journal::View& view, int64_t after) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < view.parts(); ++i) {
    Status st = view.scan(i, after, [&](LogRecord&& r) {
      ids.push_back(r.id);
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  return ids;
}

std::unique_ptr<Journal> openJournal(const std::string& dir, int64_t indexed,
                                     std::vector<int64_t>* seen = nullptr) {
  auto j = Journal::open(dir, false, indexed, [&](const LogRecord& r) {
    if (seen) seen->push_back(r.id);
  });
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().message);
  return std::move(j.value());
}

TEST(Journal, Crc32cKnownValue) {
  // RFC 3720's check value for CRC-32C.
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(Journal, BatchesReadBackAndResumeAtACursor) {
  TempDir dir;
  auto j = openJournal(dir.path, 0);
  ASSERT_TRUE(appendBatch(*j, 1, 10).ok());
  ASSERT_TRUE(appendBatch(*j, 11, 11).ok());
  EXPECT_EQ(j->lastId(), 11);
  Journal::Cursor cursor;
  std::vector<LogRecord> out;
  ASSERT_TRUE(j->read(cursor, 0, 5, out).ok());
  ASSERT_EQ(out.size(), 10u);  // whole batches only
  EXPECT_EQ(out[3].message, "m4");
  EXPECT_EQ(out[3].host, "web1");
  EXPECT_EQ(out[2].client, "c");
  EXPECT_EQ(out[2].seq, 3);
  out.clear();
  ASSERT_TRUE(j->read(cursor, 0, 5, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 11);
  out.clear();
  ASSERT_TRUE(j->read(cursor, 0, 5, out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(j->lagBytes(), 0u);
}

TEST(Journal, RecoveryCutsATornTailAndSeesTheUnindexed) {
  TempDir dir;
  {
    auto j = openJournal(dir.path, 0);
    ASSERT_TRUE(appendBatch(*j, 1, 5).ok());
    ASSERT_TRUE(appendBatch(*j, 6, 9).ok());
  }
  std::string seg = dir.path + "/journal/00000000000000000001.seg";
  // A crash inside a write: half of a third batch's bytes.
  int fd = ::open(seg.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  std::string junk(40, 'x');
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), 40);
  off_t before = ::lseek(fd, 0, SEEK_END);
  ::close(fd);
  std::vector<int64_t> seen;
  auto j = openJournal(dir.path, 4, &seen);
  EXPECT_EQ(j->lastId(), 9);
  EXPECT_EQ(seen, (std::vector<int64_t>{5, 6, 7, 8, 9}));
  fd = ::open(seg.c_str(), O_RDONLY);
  EXPECT_EQ(::lseek(fd, 0, SEEK_END), before - 40);
  ::close(fd);
  ASSERT_TRUE(appendBatch(*j, 10, 12).ok());  // appends after the cut, readable again
  auto view = j->view(8);
  ASSERT_TRUE(view.ok());
  std::vector<int64_t> ids = allIds(view.value(), 8);
  EXPECT_EQ(ids, (std::vector<int64_t>{9, 10, 11, 12}));
}

TEST(Journal, AFlippedByteFailsTheChecksum) {
  TempDir dir;
  {
    auto j = openJournal(dir.path, 0);
    ASSERT_TRUE(appendBatch(*j, 1, 3).ok());
    ASSERT_TRUE(appendBatch(*j, 4, 6).ok());
  }
  std::string seg = dir.path + "/journal/00000000000000000001.seg";
  int fd = ::open(seg.c_str(), O_RDWR);
  off_t size = ::lseek(fd, 0, SEEK_END);
  char c;
  ASSERT_EQ(::pread(fd, &c, 1, size - 3), 1);
  c ^= 0x20;
  ASSERT_EQ(::pwrite(fd, &c, 1, size - 3), 1);
  ::close(fd);
  auto j = openJournal(dir.path, 0);
  EXPECT_EQ(j->lastId(), 3);  // the damaged last batch is gone, never half read
}

TEST(Journal, DamageInAnEarlierSegmentIsCountedNotCut) {
  TempDir dir;
  std::string big(1 << 20, 'b');
  std::vector<LogRecord> rs;
  for (int64_t id = 1; id <= 40; ++id) rs.push_back(record(id, big));
  {
    auto j = openJournal(dir.path, 0);
    for (const LogRecord& r : rs) ASSERT_TRUE(j->append({&r}).ok());
  }
  std::string first = dir.path + "/journal/00000000000000000001.seg";
  int fd = ::open(first.c_str(), O_RDWR);
  off_t size = ::lseek(fd, 0, SEEK_END);
  char c = 0;
  ASSERT_EQ(::pwrite(fd, &c, 1, 100), 1);  // inside the first batch's record
  ::close(fd);
  auto j = openJournal(dir.path, 0);
  EXPECT_EQ(j->damaged(), 1u);
  EXPECT_EQ(j->lastId(), 40);  // the later segment is whole and kept
  fd = ::open(first.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::lseek(fd, 0, SEEK_END), size);  // the damaged file is left for inspection
  ::close(fd);
  auto view = j->view(0);
  ASSERT_TRUE(view.ok());
  std::vector<int64_t> ids = allIds(view.value(), 0);
  ASSERT_FALSE(ids.empty());
  EXPECT_GT(ids.front(), 1);
  EXPECT_EQ(ids.back(), 40);
}

TEST(Journal, RetainedSegmentsAreDroppedButAnOpenViewStillReads) {
  TempDir dir;
  auto j = openJournal(dir.path, 0);
  std::string big(1 << 20, 'b');
  std::vector<LogRecord> rs;
  for (int64_t id = 1; id <= 40; ++id) rs.push_back(record(id, big));
  for (const LogRecord& r : rs) ASSERT_TRUE(j->append({&r}).ok());  // past one segment
  auto view = j->view(0);
  ASSERT_TRUE(view.ok());
  ASSERT_GE(view.value().parts(), 2u);
  j->dropBefore(41);
  EXPECT_EQ(allIds(view.value(), 0).size(), 40u);
  auto after = j->view(0);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value().parts(), 1u);  // the one being written stays
}

// A store whose index waits: what queries see comes from the journal.
TEST(LogStore, QueriesReadTheJournalBeforeTheIndex) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path;
  o.indexDelaySec = 30;
  {
    auto opened = LogStore::open(o);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    LogStore& store = *opened.value();
    for (int i = 0; i < 300; ++i) {
      LogRecord r;
      r.level = i % 8;
      r.message = "event " + std::to_string(i) + (i % 50 == 0 ? " Rare-Word" : "");
      r.client = "k";
      r.seq = i % 200;  // the last 100 repeat keys: found among the unindexed
      store.append(std::move(r), nullptr);
    }
    store.flush();
    EXPECT_EQ(store.stats().stored, 200u);
    EXPECT_EQ(store.stats().duplicates, 100u);
    EXPECT_EQ(store.stats().unindexed, 200);
    EXPECT_FALSE(store.waitIndexed(store.committedId(), 0.05));
    Filter f;
    f.keyword = "rare-word";
    auto rows = store.query(f);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows.value().size(), 4u);
    EXPECT_EQ(rows.value().front().id, 1);
    f = Filter{};
    f.limit = 3;
    rows = store.query(f);
    ASSERT_EQ(rows.value().size(), 3u);
    EXPECT_EQ(rows.value().back().id, 200);  // the newest, oldest first
    f.oldestFirst = true;
    f.afterId = 10;
    rows = store.query(f);
    ASSERT_EQ(rows.value().size(), 3u);
    EXPECT_EQ(rows.value().front().id, 11);
  }
  // Closed before indexing: the next open indexes from the journal, and still knows the keys.
  o.indexDelaySec = 0;
  auto opened = LogStore::open(o);
  ASSERT_TRUE(opened.ok());
  LogStore& store = *opened.value();
  LogRecord again;
  again.message = "resent";
  again.client = "k";
  again.seq = 5;
  store.append(std::move(again), nullptr);
  store.flush();
  EXPECT_EQ(store.stats().duplicates, 1u);
  ASSERT_TRUE(store.waitIndexed(store.committedId(), 30));
  EXPECT_EQ(store.stats().unindexed, 0);
  Filter f;
  f.limit = 1000;
  auto rows = store.query(f);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows.value().size(), 200u);
  for (size_t i = 0; i < rows.value().size(); ++i)
    EXPECT_EQ(rows.value()[i].id, static_cast<int64_t>(i + 1));
  f.keyword = "rare-word";  // through the index's blocks now
  rows = store.query(f);
  EXPECT_EQ(rows.value().size(), 4u);
}

// Half indexed, half not: one answer, in order, the limit across both.
TEST(LogStore, QueriesMergeIndexAndJournal) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path;
  auto append = [](LogStore& store, const std::string& text) {
    for (int i = 0; i < 100; ++i) {
      LogRecord r;
      r.message = text + " " + std::to_string(i);
      store.append(std::move(r), nullptr);
    }
    store.flush();
  };
  {
    auto opened = LogStore::open(o);
    ASSERT_TRUE(opened.ok());
    append(*opened.value(), "first half");
    ASSERT_TRUE(opened.value()->waitIndexed(opened.value()->committedId(), 30));
  }
  o.indexDelaySec = 30;  // reopened: what comes now stays in the journal
  auto opened = LogStore::open(o);
  ASSERT_TRUE(opened.ok());
  LogStore& store = *opened.value();
  append(store, "second half");
  EXPECT_EQ(store.stats().unindexed, 100);
  Filter f;
  f.limit = 150;
  auto rows = store.query(f);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows.value().size(), 150u);
  for (size_t i = 0; i < 150; ++i) EXPECT_EQ(rows.value()[i].id, static_cast<int64_t>(51 + i));
  f.keyword = "half";
  f.oldestFirst = true;
  f.limit = 120;
  rows = store.query(f);
  ASSERT_EQ(rows.value().size(), 120u);
  EXPECT_EQ(rows.value().front().id, 1);
  EXPECT_EQ(rows.value().back().id, 120);
  f.keyword = "second";
  f.oldestFirst = false;
  f.limit = 5;
  rows = store.query(f);
  ASSERT_EQ(rows.value().size(), 5u);
  EXPECT_EQ(rows.value().front().id, 196);
}

}  // namespace
}  // namespace netlab::logs
