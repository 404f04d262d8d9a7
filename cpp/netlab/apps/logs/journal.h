// LogStore's ingest journal: append-only segment files that a batch of logs reaches before
// the SQLite index does. Committing a batch is one write(2) (and one fdatasync with
// sync=full), so ingest runs at the speed of the disk's page cache; the index follows on its
// own thread and the journal's segments are deleted once indexed. Elasticsearch's translog
// and Kafka's log segments are the same idea.
//
// A segment is journal/<first id, 20 digits>.seg, a run of batches. A batch is a 32-byte
// header (magic, record count, body size, CRC-32C of header and body, first and last id)
// and its records. A batch cut short by a crash, or garbage after a power loss, fails its
// size or checksum, and recovery truncates the segment there: only batches written whole
// were ever acknowledged.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "netlab/apps/logs/record.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab::logs {

/// CRC-32C (Castagnoli), with SSE4.2's instruction where the CPU has it.
uint32_t crc32c(uint32_t crc, const void* data, size_t size);

class Journal {
 public:
  static constexpr uint64_t kSegmentBytes = 32ull << 20;  // a new segment past this

  /// Opens (creating) `dir`/journal, truncating a torn last batch; `unindexed` sees each
  /// record with an id above `indexedId` (written, not yet indexed). Appends go to a new
  /// segment.
  static Result<std::unique_ptr<Journal>> open(
      const std::string& dir, bool syncFull, int64_t indexedId,
      const std::function<void(const LogRecord&)>& unindexed);
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// The writer thread only: appends `records` (ids increasing) as one batch, synced with
  /// sync=full. On failure the journal is left as it was before the call.
  Status append(const std::vector<const LogRecord*>& records);
  /// The newest id in a whole batch (0: none).
  int64_t lastId() const { return lastId_.load(std::memory_order_acquire); }
  /// Bytes written that the indexer's cursor has not yet read past.
  uint64_t lagBytes() const;
  /// Batches found damaged (by recovery, or by the indexer's reads) and skipped.
  uint64_t damaged() const { return damaged_.load(std::memory_order_relaxed); }

  /// Where the indexer has read to.
  struct Cursor {
    int64_t segment = 0;  // first id of the segment (0: the oldest one)
    uint64_t offset = 0;
  };
  /// The indexer: whole batches from `cursor` on, at least one and about `maxRecords`, ids
  /// above `after` only; moves the cursor past them. Empty when nothing new is written. A
  /// read that fails leaves the cursor where it was (try again later); a batch that fails
  /// its checksum is disk damage, and the rest of its segment is skipped and counted.
  Status read(Cursor& cursor, int64_t after, size_t maxRecords, std::vector<LogRecord>& out);
  /// The indexer: deletes the segments whose every id is at most `indexedId`, but never the
  /// one being written.
  void dropIndexed(int64_t indexedId);

  /// What a query reads of the journal: the segments that may hold ids above a point, open
  /// (so deleting them meanwhile does not matter) and cut at what was whole when taken.
  class View {
   public:
    /// Calls `fn` for every record of segment `part` (0 the oldest, parts() - 1 the newest)
    /// with an id in (after, lastId()], in id order, until it returns false.
    Status scan(size_t part, int64_t after, const std::function<bool(LogRecord&&)>& fn) const;
    size_t parts() const { return parts_.size(); }
    int64_t lastId() const { return lastId_; }

   private:
    friend class Journal;
    struct Part {
      Fd fd;
      uint64_t size;
      std::string path;
    };
    std::vector<Part> parts_;
    int64_t lastId_ = 0;
  };
  /// A View of every id above `after`.
  Result<View> view(int64_t after) const;

 private:
  struct Segment {
    int64_t firstId = 0, lastId = 0;
    uint64_t size = 0;
    std::string path;
  };
  Journal(std::string dir, bool syncFull) : dir_(std::move(dir)), syncFull_(syncFull) {}
  Status recover(int64_t indexedId, const std::function<void(const LogRecord&)>& unindexed);
  Status startSegment(int64_t firstId);
  std::string segmentPath(int64_t firstId) const;

  std::string dir_;  // <store>/journal
  bool syncFull_;
  Fd active_;  // the segment being appended to (the last in segments_)
  std::string encoded_;
  std::atomic<int64_t> lastId_{0};
  std::atomic<uint64_t> damaged_{0};

  mutable std::mutex mutex_;
  std::vector<Segment> segments_;  // oldest first
  // Atomics, so the writer can test the lag under its own lock without taking this one.
  std::atomic<uint64_t> written_{0}, consumed_{0};
};

}  // namespace netlab::logs
