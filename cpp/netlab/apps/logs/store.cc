#include "netlab/apps/logs/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>

#include "netlab/apps/logs/query_handler.h"
#include "netlab/core/handler.h"

namespace netlab::logs {
namespace {

constexpr size_t kMaxBatchBytes = 4 << 20;  // a batch's messages: one write, bounded memory

std::mutex openMutex;
std::map<std::string, std::weak_ptr<LogStore>>& openStores() {
  static std::map<std::string, std::weak_ptr<LogStore>> stores;
  return stores;
}

}  // namespace

std::string idempotencyKey(const LogRecord& r) {
  std::string key = r.client;
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(&r.seq), sizeof r.seq);
  return key;
}

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
  // Ids continue from the journal and the index at open: two processes writing one store
  // would hand out the same.
  std::string lockPath = dir_ + "/lock";
  lock_.reset(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock_.valid()) return sysError("open " + lockPath);
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    return Error{errno == EWOULDBLOCK ? EBUSY : errno,
                 dir_ + " is in use by another process (its lock file is held)"};
  }
  Status st = openIndex();
  if (!st.ok()) return st;
  // With a bound on the store's size, segments of an eighth of it: retention deletes whole
  // segments, so the bytes on disk stay within about that much of the bound.
  uint64_t segmentBytes = Journal::kSegmentBytes;
  if (options_.maxBytes > 0)
    segmentBytes = std::clamp<uint64_t>(static_cast<uint64_t>(options_.maxBytes) / 8, 256 << 10,
                                        Journal::kSegmentBytes);
  auto journal = Journal::open(
      dir_, options_.syncFull, indexed_.load(),
      [this](const LogRecord& r) {
        if (!r.client.empty()) pendingKeys_.insert(idempotencyKey(r));
      },
      segmentBytes);
  if (!journal.ok()) return journal.error();
  journal_ = std::move(journal.value());
  journal_->startAt(cursor_);
  nextId_ = std::max(indexed_.load(), journal_->lastId()) + 1;
  writer_ = std::thread([this] { writerLoop(); });
  indexer_ = std::thread([this] { indexerLoop(); });
  return {};
}

LogStore::~LogStore() {
  queryPool_.reset();  // queries still queued run first: they use the read connections
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();  // what is queued reaches the journal
  {
    // The index stops where it is: the journal keeps the rest for the next open.
    std::lock_guard<std::mutex> lock(indexMutex_);
    stopIndex_ = true;
  }
  indexWake_.notify_all();
  if (indexer_.joinable()) indexer_.join();
  sqlite3_finalize(putBlock_);
  sqlite3_finalize(putKey_);
  sqlite3_finalize(setMeta_);
  sqlite3_finalize(findKey_);
  sqlite3_close(db_);
  sqlite3_close(keyDb_);
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
    queuedBytes_ += record.message.size();
    queue_.push_back({std::move(record), sink});
    ++appended_;
  }
  // The writer sleeps only on an empty queue: one wake-up per batch, not a futex call per log.
  if (wasEmpty) wake_.notify_one();
  return id;
}

bool LogStore::behind(std::function<void()> resume) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.size() < kMaxQueued && queuedBytes_ < kMaxQueuedBytes) return false;
  waiters_.push_back(std::move(resume));
  return true;
}

void LogStore::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t target = appended_;
  flushed_.wait(lock, [&] { return committed_ >= target; });
}

LogStore::Stats LogStore::stats() const {
  Stats s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s = stats_;
    s.queued = queue_.size();
  }
  s.indexErrors = indexErrors_.load(std::memory_order_relaxed) + journal_->damaged();
  s.unindexed = std::max<int64_t>(0, journal_->lastId() - indexed_.load());
  s.indexLagBytes = journal_->lagBytes();
  return s;
}

void LogStore::writerLoop() {
  std::vector<Pending> batch;
  std::vector<const LogRecord*> records;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Past maxIndexLag the writer waits for the index, and the queue fills: ingest pauses.
      wake_.wait(lock, [this] {
        return stopping_ || (!queue_.empty() && journal_->lagBytes() < options_.maxIndexLag);
      });
      if (queue_.empty()) return;  // stopping, and everything is committed
      batch.clear();
      size_t bytes = 0;
      while (!queue_.empty() && batch.size() < kMaxBatch && bytes < kMaxBatchBytes) {
        bytes += queue_.front().record.message.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queuedBytes_ -= bytes;
    }
    if (options_.commitDelaySec > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.commitDelaySec));
    uint64_t duplicates = dropDuplicates(batch);
    records.clear();
    for (const Pending& p : batch) {
      if (p.stored) records.push_back(&p.record);
    }
    bool ok = journal_->append(records).ok();
    if (!ok) {
      std::vector<LogRecord> lost;
      for (const LogRecord* r : records) {
        if (!r->client.empty()) lost.push_back(*r);
      }
      forgetKeys(lost);
    }
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
    if (ok && !records.empty()) {
      {
        std::lock_guard<std::mutex> lock(indexMutex_);
      }
      indexWake_.notify_one();
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
      if (queue_.size() < kResumeBelow && queuedBytes_ < kResumeBelowBytes) {
        resumed.swap(waiters_);
      }
    }
    flushed_.notify_all();
    batch.clear();  // the sinks' last references may go here, off the lock
    for (auto& resume : resumed) resume();
  }
}

void LogStore::forgetKeys(const std::vector<LogRecord>& records) {
  std::vector<std::string> keys;  // made off the lock: the writer takes it for every key
  for (const LogRecord& r : records) {
    if (!r.client.empty()) keys.push_back(idempotencyKey(r));
  }
  if (keys.empty()) return;
  std::lock_guard<std::mutex> lock(keysMutex_);
  for (const std::string& key : keys) pendingKeys_.erase(key);
}

uint64_t LogStore::dropDuplicates(std::vector<Pending>& batch) {
  uint64_t duplicates = 0;
  for (Pending& p : batch) {
    if (p.record.client.empty()) continue;
    std::string key = idempotencyKey(p.record);
    bool seen;
    {
      std::lock_guard<std::mutex> lock(keysMutex_);
      seen = pendingKeys_.count(key) > 0;
    }
    // The indexer forgets a key only after committing it, so a key missing here is in
    // SQLite by now if it was ever stored.
    if (seen || keyIndexed(p.record)) {
      p.stored = false;
      ++duplicates;
      continue;
    }
    std::lock_guard<std::mutex> lock(keysMutex_);
    pendingKeys_.insert(std::move(key));
  }
  return duplicates;
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
    Matcher matches(it->second.filter);
    for (const Pending& p : batch) {
      if (p.stored && matches(p.record)) appendRow(out, p.record);
    }
    if (!out.empty() && !it->second.outlet->deliver(out)) {
      it = tails_.erase(it);  // closed, or dropped as too slow
      continue;
    }
    ++it;
  }
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
