// LogServer's durable store. A writer thread appends batches of logs to a journal (group
// commit: one write, one fdatasync with sync=full), never a loop thread. The journal is
// where logs live. An indexer thread follows it at its own pace and describes each block of
// about 4,096 logs in SQLite (index.db, WAL): where the block lies in the journal, its ids,
// its time range, the levels in it and a Bloom filter of its words, hosts and apps; and
// the idempotency keys. A query walks the blocks newest first, skips those that cannot
// match and reads the rest from the journal, then the journal's not-yet-indexed tail, so a
// log is found as soon as it is committed. Indexing costs a tokenizer pass, not a B-tree
// insert per log and word, so the index keeps up with ingest (an FTS5 index held ingest
// to 0.2 M logs/s). Every port of a LogServer (ingest, query, syslog) is its own native
// server; they meet here, one store per data directory in a process.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "netlab/apps/logs/journal.h"
#include "netlab/apps/logs/record.h"
#include "netlab/core/handler.h"
#include "netlab/core/work_pool.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab::logs {

/// A connection waiting to acknowledge logs once they are on disk (ack="durable").
class AckSink {
 public:
  virtual ~AckSink() = default;
  /// On the writer thread, once per batch that held this sink's logs, ids in append order;
  /// `ok` false when the batch could not be committed.
  virtual void committed(std::vector<int64_t> ids, bool ok) = 0;
};

struct StoreOptions {
  std::string dir = "./netlab-logs";
  /// Full: each journal batch is fdatasync'ed before it counts as committed, so a commit
  /// survives power loss (and the index runs synchronous=FULL). Off: a commit is in the page
  /// cache, so it survives the process being killed at any moment, not the machine losing
  /// power (SQLite: WAL with synchronous=NORMAL).
  bool syncFull = false;
  double commitDelaySec = 0;  // a test hook: each commit waits this long first (a slow disk)
  double indexDelaySec = 0;   // a test hook: each index batch waits this long (a slow index)
  double retentionSec = 0;    // logs received longer ago than this are deleted; 0: kept
  /// Past this many bytes of logs and index, the oldest blocks of logs go; 0: no bound.
  int64_t maxBytes = 0;
  /// Journal bytes the indexer has not read yet past which the writer stops taking logs (and ingest
  /// pauses reading): a burst is taken at the journal's speed, a sustained flood at the
  /// index's, and the journal's size on disk has a bound.
  uint64_t maxIndexLag = 512ull << 20;
};

/// What a query asks for; every field set narrows it.
struct Filter {
  std::string keyword;  // a word (or phrase) in the message
  int level = -1;       // exactly this severity
  int maxLevel = -1;    // this severity or a more severe one
  int64_t sinceMs = -1, untilMs = -1;
  std::string host, app;
  int64_t afterId = 0;  // ids above this one (TAIL's position)
  size_t limit = 100;
  bool oldestFirst = false;  // the oldest `limit` matches instead of the newest
  size_t maxBytes = 0;       // and no more rows than rowBytes() of this many (0: no bound)
};

/// What a row costs a query's answer, near enough: its texts and a line's fields.
inline size_t rowBytes(const LogRecord& r) {
  return r.message.size() + r.host.size() + r.app.size() + 64;
}

/// Whether `r` meets `f`: TAIL's test, and queries'. A keyword matches whole words in any
/// ASCII case (its words in a row, for a phrase); bytes above 0x7f count as letters and are
/// matched as they are, so "Ärger" does not find "ärger".
bool matches(const Filter& f, const LogRecord& r);

/// matches() for many logs: the keyword's words split once, and a message that cannot hold
/// the first of them (a substring search) is passed over without splitting it into words.
class Matcher {
 public:
  explicit Matcher(const Filter& f);
  bool operator()(const RecordView& r) const;
  bool operator()(const LogRecord& r) const;

 private:
  bool hasWords(std::string_view message) const;
  const Filter& f_;
  std::vector<std::string> want_;  // the keyword's words, lowercased
  bool caseless_ = false;          // want_[0] holds letters: the search ignores their case
  mutable std::string scratch_;
  mutable std::vector<std::string> have_;
};

/// A log's client and sequence number as one string (a set's key).
std::string idempotencyKey(const LogRecord& r);
Error sqliteError(const std::string& what, sqlite3* db);

class LogStore {
 public:
  static constexpr size_t kMaxQueued = 20000;  // records waiting for the writer
  static constexpr size_t kResumeBelow = 5000;
  // and their messages' bytes: 20,000 messages of max_message (16 MiB at most) would be
  // hundreds of gigabytes
  static constexpr size_t kMaxQueuedBytes = 64 << 20;
  static constexpr size_t kResumeBelowBytes = 16 << 20;
  static constexpr size_t kMaxBatch = 10000;

  /// The store in `options.dir` (created if missing): the one this process has open there
  /// already, or a new one. An Error names the directory and what SQLite said.
  static Result<std::shared_ptr<LogStore>> open(const StoreOptions& options);
  ~LogStore();  // commits what is queued, then stops the writer
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  /// Any thread: gives `record` its id and queues it for the writer; `sink` (may be null)
  /// hears when it is committed.
  int64_t append(LogRecord record, const std::shared_ptr<AckSink>& sink);
  /// Whether the writer is kMaxQueued records or kMaxQueuedBytes behind: then `resume` runs,
  /// on the writer thread, once it is back under kResumeBelow and kResumeBelowBytes (the
  /// caller stops reading meanwhile).
  bool behind(std::function<void()> resume);
  /// Blocks on SQLite and the disk: call it from a WorkPool thread (queryPool()), never a
  /// loop.
  Result<std::vector<LogRecord>> query(const Filter& filter);
  WorkPool& queryPool() { return *queryPool_; }
  /// Returns once everything appended before the call is committed.
  void flush();
  /// The newest id committed to the journal.
  int64_t committedId() const;
  /// Returns once every id up to `target` (a committedId()) is in the index and the
  /// retention pass after it has run, or false after `timeoutSec`.
  bool waitIndexed(int64_t target, double timeoutSec);
  /// The id the latest append was given (0: none yet).
  int64_t lastId() const;

  /// TAIL: every log committed from now on that matches `filter` is sent to `outlet` as
  /// id|level|timestamp|message lines, a batch at a time, until unsubscribe() or until the
  /// connection refuses it (closed, or dropped as a slow consumer past its output bound).
  uint64_t subscribe(const Filter& filter, std::shared_ptr<Outlet> outlet);
  void unsubscribe(uint64_t token);
  /// `onCommit` runs on the writer thread after every committed batch (keep it short: a
  /// notify) until unwatch(); unwatch() returns once it no longer runs.
  uint64_t watch(std::function<void()> onCommit);
  void unwatch(uint64_t token);

  struct Stats {
    uint64_t stored = 0, batches = 0, duplicates = 0, failedBatches = 0, deleted = 0;
    uint64_t indexErrors = 0;  // SQLite refusals (retried), failed reads, damaged batches
    size_t queued = 0;
    int64_t unindexed = 0;  // ids committed to the journal above the index's position
    uint64_t indexLagBytes = 0;
  };
  Stats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Pending {
    LogRecord record;
    std::shared_ptr<AckSink> sink;
    bool stored = true;  // false: its client and sequence number were stored before
  };
  // The block the indexer is filling. It is written to the index (sealed) when full, and
  // also, while it fills, whenever the indexer has caught up with the journal (at most
  // every kResealSec): then it is written again, replacing itself, until full.
  struct Block {
    Journal::Span span;
    int64_t firstId = 0, lastId = 0, count = 0;
    int64_t minTime = 0, maxTime = 0, maxReceived = 0;
    uint32_t levels = 0;  // bit n: a log of level n
    std::vector<uint64_t> words;
    std::vector<LogRecord> keyed;  // client, seq and id of keyed logs since the last seal
    uint64_t lastHost = 0, lastApp = 0;
    bool dirty = false;  // logs added since the last seal
    void add(const RecordView& r);
    /// `next`'s logs, read right after this block's, join it.
    void join(Block& next);
    void clear();
  };
  LogStore(std::string dir, StoreOptions options);
  Status init();
  Status openIndex();
  void writerLoop();
  void publish(const std::vector<Pending>& batch);
  /// Marks the batch's logs whose client and sequence number were stored before; the keys
  /// of the others are held until indexed. Off the queue lock, on the writer thread.
  uint64_t dropDuplicates(std::vector<Pending>& batch);
  bool keyIndexed(const LogRecord& r);
  void forgetKeys(const std::vector<LogRecord>& records);
  void indexerLoop();
  /// Writes `b` to the index with the cursor past it, in one transaction.
  bool seal(const Block& b, const Journal::Cursor& cursor);
  /// Retention, on the indexer thread at most once a second: by age, then by size.
  void retain();
  /// Ids from `newKept` on are kept: the index forgets the blocks and keys below, then the
  /// journal's segments below go. `deleted` logs are counted.
  bool keepFrom(int64_t newKept, int64_t deleted);
  /// Logs of a block's `span` with ids in [from, to).
  int64_t countIn(const Journal::Span& span, int64_t from, int64_t to);
  /// The indexed part of a query: matches among the blocks, with ids above `after` and at
  /// most the index's position (read in the same snapshot into `indexed`), newest first or
  /// oldest first, up to `limit` and `budget` bytes (rowBytes, taken off it), returned
  /// oldest first.
  Status queryBlocks(sqlite3* db, const Filter& f, int64_t after, size_t limit, size_t& budget,
                     std::vector<LogRecord>& rows);
  sqlite3* readConnection();
  void giveBack(sqlite3* db);

  std::string dir_;
  StoreOptions options_;
  Fd lock_;  // flock on <dir>/lock: one process writes a store
  std::unique_ptr<Journal> journal_;
  sqlite3* db_ = nullptr;  // the indexer's
  sqlite3_stmt* putBlock_ = nullptr;
  sqlite3_stmt* putKey_ = nullptr;
  sqlite3_stmt* setMeta_ = nullptr;
  Journal::Cursor cursor_;    // the indexer's position, as sealed
  sqlite3* keyDb_ = nullptr;  // the writer's, to look up idempotency keys
  sqlite3_stmt* findKey_ = nullptr;
  int64_t nextId_ = 1;  // under mutex_
  int64_t lastRetainNs_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_, flushed_;
  std::deque<Pending> queue_;
  size_t queuedBytes_ = 0;  // of queue_'s messages
  std::vector<std::function<void()>> waiters_;
  uint64_t appended_ = 0, committed_ = 0;
  bool stopping_ = false;
  Stats stats_;
  std::thread writer_;

  // The index's position: every id up to it is in a sealed block (or was a duplicate).
  std::atomic<int64_t> indexed_{0};
  std::atomic<int64_t> kept_{1};    // the first id retention keeps
  std::atomic<int> sealWanted_{0};  // waitIndexed() callers: seal without waiting
  std::mutex indexMutex_;
  std::condition_variable indexWake_, indexDone_;
  bool stopIndex_ = false;
  std::thread indexer_;
  std::atomic<uint64_t> indexErrors_{0};
  // Idempotency keys (client, seq) committed to the journal and not yet indexed: SQLite's
  // unique index cannot see them yet.
  std::mutex keysMutex_;
  std::unordered_set<std::string> pendingKeys_;

  struct Tail {
    Filter filter;
    std::shared_ptr<Outlet> outlet;
  };
  std::mutex tailMutex_;
  std::map<uint64_t, Tail> tails_;
  uint64_t nextTail_ = 1;

  std::mutex watchMutex_;
  std::map<uint64_t, std::function<void()>> watchers_;
  uint64_t nextWatch_ = 1;

  std::mutex readMutex_;
  std::vector<sqlite3*> readers_;
  std::unique_ptr<WorkPool> queryPool_ = std::make_unique<WorkPool>(2);
};

}  // namespace netlab::logs
