// LogServer's durable store. A writer thread appends batches of logs to a journal (group
// commit: one write, one fdatasync with sync=full), never a loop thread; an indexer thread
// then copies them into SQLite (WAL, an FTS5 index of the messages) at its own pace, and
// the journal's indexed segments are deleted. Queries read SQLite and the journal's
// not-yet-indexed tail, so a log is found as soon as it is committed. Every port of a
// LogServer (ingest, query, syslog) is its own native server; they meet here, one store per
// data directory in a process.
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
  /// survives power loss (and SQLite runs synchronous=FULL). Off: a commit is in the page
  /// cache, so it survives the process being killed at any moment, not the machine losing
  /// power (SQLite: WAL with synchronous=NORMAL).
  bool syncFull = false;
  double commitDelaySec = 0;  // a test hook: each commit waits this long first (a slow disk)
  double indexDelaySec = 0;   // a test hook: each index batch waits this long (a slow index)
  double retentionSec = 0;    // logs received longer ago than this are deleted; 0: kept
  int64_t maxBytes = 0;       // past this many bytes of pages in use, the oldest logs go; 0: none
  /// Journal bytes the indexer has not read yet past which the writer stops taking logs (and ingest
  /// pauses reading): a burst is taken at the journal's speed, a sustained flood at the
  /// index's, and the journal's size on disk has a bound.
  uint64_t maxIndexLag = 512ull << 20;
};

/// What a query asks for; every field set narrows it.
struct Filter {
  std::string keyword;  // a word (or phrase) in the message, through the FTS5 index
  int level = -1;       // exactly this severity
  int maxLevel = -1;    // this severity or a more severe one
  int64_t sinceMs = -1, untilMs = -1;
  std::string host, app;
  int64_t afterId = 0;  // ids above this one (TAIL's position)
  size_t limit = 100;
  bool oldestFirst = false;  // the oldest `limit` matches instead of the newest
};

/// Whether `r` meets `f`: TAIL's test, and queries' over the journal's unindexed tail. A
/// keyword matches whole words in any ASCII case, as FTS5's unicode61 tokenizer does for
/// ASCII; bytes above 0x7f count as letters here, so a non-ASCII keyword differing in case
/// or accents, or split by Unicode punctuation, may match only once indexed.
bool matches(const Filter& f, const LogRecord& r);

/// A log's client and sequence number as one string (a set's key).
std::string idempotencyKey(const LogRecord& r);
Error sqliteError(const std::string& what, sqlite3* db);

class LogStore {
 public:
  static constexpr size_t kMaxQueued = 20000;  // records waiting for the writer
  static constexpr size_t kResumeBelow = 5000;
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
  /// Whether the writer is kMaxQueued records behind: then `resume` runs, on the writer
  /// thread, once it is back under kResumeBelow (the caller stops reading meanwhile).
  bool behind(std::function<void()> resume);
  /// Blocks on SQLite: call it from a WorkPool thread (queryPool()), never a loop.
  Result<std::vector<LogRecord>> query(const Filter& filter);
  WorkPool& queryPool() { return *queryPool_; }
  /// Returns once everything appended before the call is committed.
  void flush();
  /// The newest id committed to the journal.
  int64_t committedId() const;
  /// Returns once every id up to `target` (a committedId()) is in the SQLite index and the
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
  bool index(const std::vector<LogRecord>& batch);
  /// SQLite's part of a query: the rows with ids up to the index's position, which it
  /// puts in `indexed` (read in the same snapshot).
  Status queryIndex(const Filter& f, size_t limit, std::vector<LogRecord>& rows, int64_t& indexed);
  /// Retention, on the indexer thread at most once a second: by age, then by size.
  void retain();
  /// Deletes up to `limit` of the oldest logs (with their FTS rows), stopping at the first
  /// received at or after `receivedBefore` (-1: none stops it); how many, -1 on failure.
  int64_t deleteOldest(int64_t receivedBefore, int64_t limit);
  int64_t bytesInUse();
  int64_t idSpan();
  sqlite3* readConnection();
  void giveBack(sqlite3* db);

  std::string dir_;
  StoreOptions options_;
  Fd lock_;  // flock on <dir>/lock: one process writes a store
  std::unique_ptr<Journal> journal_;
  sqlite3* db_ = nullptr;  // the indexer's
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* insertFts_ = nullptr;
  sqlite3_stmt* setIndexed_ = nullptr;
  sqlite3* keyDb_ = nullptr;  // the writer's, to look up idempotency keys
  sqlite3_stmt* findKey_ = nullptr;
  int64_t nextId_ = 1;  // under mutex_
  int64_t lastRetainNs_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_, flushed_;
  std::deque<Pending> queue_;
  std::vector<std::function<void()>> waiters_;
  uint64_t appended_ = 0, committed_ = 0;
  bool stopping_ = false;
  Stats stats_;
  std::thread writer_;

  // The index's position: every id up to it is in SQLite (or was a duplicate).
  std::atomic<int64_t> indexed_{0};
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
