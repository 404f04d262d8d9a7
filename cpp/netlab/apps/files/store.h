// What a file server's connections share: the root, the hidden area of partial uploads, the
// disk threads, the quota's account, the names being uploaded, and the checksums of stored
// files. Every method may be called from any loop or disk thread.
#pragma once

#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "netlab/apps/files/root.h"
#include "netlab/core/options.h"
#include "netlab/core/work_pool.h"

namespace netlab::files {

struct FileOptions {
  std::string root = "./files";
  int64_t maxFile = 0;           // bytes; 0: no limit
  int64_t quota = 0;             // bytes under the root, partial uploads included; 0: none
  int64_t maxUploads = 64;       // at once
  double uploadTimeoutSec = 60;  // an upload that sends nothing for this long is cut
  double partialTtlSec = 86400;  // a partial upload is kept this long for a resume
  int64_t diskThreads = 4;       // libuv's pool size
  double sniffTimeoutSec = 5;    // a client silent this long speaks the line protocol
  int64_t maxHeaders = 100;
  int64_t maxHeaderLine = 8 * 1024;
  int64_t maxHead = 64 * 1024;
};

/// Why a request was refused: each is an ERR line or an HTTP status, and a counter.
enum class Refusal : uint8_t {
  kNone,
  kBadCommand,
  kBadName,
  kNotFound,
  kForbidden,  // leads out of the root, or is not a regular file
  kBusy,
  kTooLarge,
  kQuota,
  kTooManyUploads,
  kChecksum,
  kBadRange,
  kStalled,
  kIoError,
};
constexpr size_t kRefusals = static_cast<size_t>(Refusal::kIoError) + 1;
std::string_view refusalName(Refusal r);
int httpStatus(Refusal r);
/// An errno from opening a client's name, as a refusal.
Refusal refusalOf(int err);

struct FileCounters {
  std::atomic<uint64_t> stored{0}, served{0}, sendfileBytes{0}, resumes{0}, hashed{0};
  std::array<std::atomic<uint64_t>, kRefusals> refusals{};
  void refuse(Refusal r) {
    refusals[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

class FileStore {
 public:
  static Result<std::unique_ptr<FileStore>> open(const FileOptions& options);
  ~FileStore();

  const FileOptions& options() const { return options_; }
  const Root& root() const { return root_; }
  int partialDir() const { return partial_.get(); }
  WorkPool& pool() { return *pool_; }
  FileCounters& counters() const { return counters_; }

  /// An upload of `size` bytes (-1: unknown) to `name`, written to `partial` in the partial
  /// area: takes an upload slot, the name (and so the partial), and `size` bytes of quota.
  Refusal admit(const std::string& name, const std::string& partial, int64_t size);
  /// Quota taken by admit() that is not needed after all (what a resumed partial holds).
  void unreserve(int64_t bytes);
  /// More bytes of an upload of unknown size, from the quota.
  bool charge(int64_t bytes);
  /// Gives back an upload's slot at once when its connection ends: the name stays taken
  /// until its last write is on disk (release).
  void freeSlot();
  /// Gives back what admit() and charge() took: the name, the slot unless freeSlot() did,
  /// `reserved` bytes promised, of which `added` now lie on disk (and `removed`, a file
  /// replaced, no longer do).
  void release(const std::string& name, bool slot, int64_t reserved, int64_t added,
               int64_t removed);
  /// Bytes that left the disk outside an upload (a stale partial truncated).
  void forget(int64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  int64_t usedBytes() const { return used_.load(std::memory_order_relaxed); }

  /// The file a sized upload of `name` is written to until it completes.
  static std::string partialName(const std::string& name, int64_t size);
  /// The bytes a partial upload of `name` holds and its announced size, if there is one.
  std::optional<std::pair<int64_t, int64_t>> findPartial(const std::string& name) const;
  /// Removes partial uploads untouched for partial_ttl (on a disk thread, once a minute).
  void sweepPartials();

  /// The sha256 of the file `st` describes, if known (this run, or its stored record).
  std::optional<std::string> knownSha(const struct stat& st);
  /// Records `sha` for the file `st` describes (a disk thread: it writes the record).
  void rememberSha(const struct stat& st, const std::string& sha);
  /// Hashes `file` on a disk thread and calls `done` there with its sha256 ("" on a read
  /// error). Requests for one file while it is being hashed wait for that one pass.
  void hash(Fd file, const struct stat& st, std::function<void(const std::string&)> done);

 private:
  using Key = std::tuple<dev_t, ino_t, off_t, int64_t>;  // device, inode, size, mtime (ns)
  static Key keyOf(const struct stat& st);
  explicit FileStore(const FileOptions& options) : options_(options) {}
  int64_t countBytes(int dir, int depth);
  void writeRecord(const Key& key, const std::string& sha);
  static constexpr size_t kMaxRememberedShas = 1 << 16;  // about 10 MiB of keys and digests
  void rememberLocked(const Key& key, const std::string& sha);

  FileOptions options_;
  Root root_;
  Fd hidden_, partial_, sums_;
  std::unique_ptr<WorkPool> pool_;
  // Hashing a large file takes seconds: threads of its own, so uploads never wait behind it.
  std::unique_ptr<WorkPool> hashPool_;
  mutable FileCounters counters_;  // atomics, bumped from any thread
  std::atomic<int64_t> used_{0};

  mutable std::mutex mutex_;
  std::map<std::string, std::string> uploading_;  // name -> its partial file
  int64_t reserved_ = 0, uploads_ = 0;
  int64_t lastSweepNs_ = 0;
  std::map<Key, std::string> shas_;
  std::map<Key, std::vector<std::function<void(const std::string&)>>> hashing_;
};

}  // namespace netlab::files
