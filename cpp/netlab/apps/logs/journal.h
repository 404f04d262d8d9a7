// LogStore's ingest journal: append-only segment files that a batch of logs reaches before
// the index does. Committing a batch is one write(2) (and one fdatasync with
// sync=full), so ingest runs at the speed of the disk's page cache; the index follows on its
// own thread. Kafka's log segments and Loki's chunks are the same idea.
//
// Segments stay after indexing: the journal is where logs live, the index only says which
// ranges of it may hold what a query asks for; retention deletes whole segments.
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
#include <string_view>
#include <vector>

#include "netlab/apps/logs/record.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab::logs {

/// A record as it lies in a batch read from the journal: the strings point into the batch.
struct RecordView {
  int64_t id = 0, timeMs = 0, receivedMs = 0, seq = -1;
  uint32_t flags = 0;
  int level = 6;
  std::string_view host, app, client, message;
  LogRecord copy() const;
};

/// CRC-32C (Castagnoli), with SSE4.2's instruction where the CPU has it.
uint32_t crc32c(uint32_t crc, const void* data, size_t size);

class Journal {
 public:
  static constexpr uint64_t kSegmentBytes = 32ull << 20;  // a new segment past this

  /// Opens (creating) `dir`/journal, truncating a torn last batch; `unindexed` sees each
  /// record with an id above `indexedId` (written, not yet indexed); segments wholly at or
  /// below it are not read. Appends go to a new segment, started past `segmentBytes`.
  static Result<std::unique_ptr<Journal>> open(
      const std::string& dir, bool syncFull, int64_t indexedId,
      const std::function<void(const LogRecord&)>& unindexed,
      uint64_t segmentBytes = kSegmentBytes);
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
  /// The bytes [begin, end) of one segment: whole batches.
  struct Span {
    int64_t segment = 0;
    uint64_t begin = 0, end = 0;
  };
  /// The indexer, once, before its first read: the bytes before `cursor` count as read.
  void startAt(const Cursor& cursor);
  /// The indexer: whole batches of one segment from `cursor` on, at least one and about
  /// `maxRecords`, ids above `after` only; moves the cursor past them and sets `span` (when
  /// given) to the bytes of the good batches read. Empty when nothing new is written. A read
  /// that fails leaves the cursor where it was (try again later); a batch that fails its
  /// checksum is disk damage, and the rest of its segment is skipped and counted.
  Status read(Cursor& cursor, int64_t after, size_t maxRecords, std::vector<LogRecord>& out,
              Span* span = nullptr);
  /// read(), each record seen in place (the indexer copies nothing).
  Status read(Cursor& cursor, int64_t after, size_t maxRecords,
              const std::function<void(const RecordView&)>& fn, Span* span = nullptr);
  /// Any thread: the records of `span` with ids above `after`, in id order, in place: one
  /// read(2) into `buf`, which `views` point into. A segment deleted meanwhile (retention)
  /// reads as empty; a damaged batch ends the span there, as the indexer skips it.
  Status read(const Span& span, int64_t after, std::string& buf,
              std::vector<RecordView>& views) const;
  /// read(span), each record copied to `fn` until it returns false.
  Status scan(const Span& span, int64_t after, const std::function<bool(LogRecord&&)>& fn) const;
  /// Retention: deletes the segments whose every id is below `keptId`, but never the one
  /// being written; if every id of that one is below too, the next append starts a new
  /// segment, so a later call deletes it (a quiet store would otherwise keep expired logs
  /// on disk until its segment fills).
  void dropBefore(int64_t keptId);
  /// Bytes of the journal from `from` (a segment's first id and an offset in it) on.
  uint64_t bytesFrom(const Cursor& from) const;

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
  Journal(std::string dir, bool syncFull, uint64_t segmentBytes)
      : dir_(std::move(dir)), syncFull_(syncFull), segmentBytes_(segmentBytes) {}
  Status recover(int64_t indexedId, const std::function<void(const LogRecord&)>& unindexed);
  Status startSegment(int64_t firstId);
  std::string segmentPath(int64_t firstId) const;

  std::string dir_;  // <store>/journal
  bool syncFull_;
  uint64_t segmentBytes_;
  Fd active_;  // the segment being appended to (the last in segments_)
  std::string encoded_;
  std::atomic<int64_t> lastId_{0};
  std::atomic<uint64_t> damaged_{0};

  mutable std::mutex mutex_;
  std::vector<Segment> segments_;  // oldest first
  // Atomics, so the writer can test the lag under its own lock without taking this one.
  std::atomic<uint64_t> written_{0}, consumed_{0};
  std::atomic<bool> rollOver_{false};  // set by dropBefore(), taken by append()
};

}  // namespace netlab::logs
