// One upload on its way to disk. The connection's thread queues what arrives; the store's
// disk threads write it in order (one job at a time per upload), hash it as they go, and at
// the end fsync the file, check its size and sha256, and rename it into place, so a reader
// sees the old file or the whole new one, never a part. Past kBehind queued bytes the
// connection stops reading until the disk has caught up: memory stays flat whatever the size.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "netlab/apps/files/store.h"
#include "netlab/core/handler.h"
#include "netlab/core/sha256.h"

namespace netlab::files {

class Upload : public std::enable_shared_from_this<Upload> {
 public:
  static constexpr size_t kChunk = 256 << 10;
  static constexpr size_t kBehind = 2 << 20;
  static constexpr size_t kCaughtUp = 512 << 10;

  enum class Event { kCaughtUp, kFailed, kDone };
  /// Called on the connection's thread while it is open.
  using Notify = std::function<void(Conn&, Upload&, Event)>;
  struct Spec {
    std::string name;
    int64_t size = -1;  // unknown: the classic upload and chunked PUT, which end at EOF
    std::string sha;    // expected, lowercase hex; empty: not checked
    bool resume = false;
  };
  struct Outcome {
    Refusal refusal = Refusal::kNone;
    std::string why;
    int64_t size = 0;
    std::string sha;
    bool created = false;  // no file of that name existed before
  };

  /// Admits the upload (store limits, the name not already being uploaded) and opens its
  /// file; null with `refusal` set when it cannot start.
  static std::shared_ptr<Upload> start(FileStore& store, Spec spec, std::shared_ptr<Outlet> outlet,
                                       Notify notify, Refusal& refusal);
  ~Upload();

  int64_t offset() const { return offset_; }      // bytes a resumed partial already held
  int64_t received() const { return received_; }  // offset + bytes given to write()
  int64_t size() const { return spec_.size; }
  /// Queues bytes for the disk; a refusal when the upload must stop (quota, largest file).
  Refusal write(std::string_view bytes);
  /// The disk is kBehind: stop reading until Event::kCaughtUp.
  bool behind();
  /// Every byte has been given: check, fsync and rename, then Event::kDone.
  void finish();
  /// The connection ended first: what came is written and kept for a resume (a sized
  /// upload) or removed (an unsized one). No event follows.
  void abandon();
  bool ending() const { return ending_ != End::kNo; }
  /// Valid from Event::kFailed or kDone on.
  const Outcome& outcome() const { return outcome_; }

 private:
  enum class End { kNo, kFinish, kAbandon };
  Upload(FileStore& store, Spec spec, std::shared_ptr<Outlet> outlet, Notify notify);
  void schedule();
  void drain();
  void hashPrefix();
  void writeChunk(const std::string& chunk);
  void complete(End end);
  void commit();
  void fail(Refusal refusal, std::string why);
  void post(Event event);
  void dropFile();

  FileStore& store_;
  Spec spec_;
  std::shared_ptr<Outlet> outlet_;
  Notify notify_;
  std::string fileName_;  // in the partial area
  Fd file_;
  int64_t offset_ = 0, received_ = 0, reserved_ = 0;
  // The disk threads' side.
  Sha256 sha_;
  int64_t written_ = 0;  // beyond offset_
  int error_ = 0;
  Outcome outcome_;
  // Shared, under mutex_.
  std::mutex mutex_;
  std::deque<std::string> chunks_;
  size_t queued_ = 0;
  bool scheduled_ = false, waiting_ = false;
  End ending_ = End::kNo;
  bool failedEarly_ = false;
  bool prefixPending_ = false;
  bool slotFreed_ = false;  // set on the loop thread before the last job is queued  // set before
                            // the first job, read by it
};

}  // namespace netlab::files
