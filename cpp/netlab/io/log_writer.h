// Appends text to a file from a thread of its own, so an event loop never waits on a disk.
// nginx buffers its access log (buffer=, flush=) and HAProxy sends its own to syslog over
// UDP; both keep the disk out of the request path. Loops append to a bounded buffer; the
// writer takes it whole and writes it with one write(2) a batch, at least every
// kFlushInterval. Past kMaxPending (beside the batch being written) the writer has fallen
// behind a stalled disk: appended text is dropped and counted, never waited for.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab {

class LogWriter {
 public:
  static constexpr size_t kMaxPending = 8 << 20;
  static constexpr size_t kBatch = 64 << 10;  // wakes the writer early
  static constexpr int kFlushIntervalMs = 100;

  /// Opens `path` for appending (created 0644 if missing) and starts the writer; an Error
  /// names the path and what the system said.
  static Result<std::unique_ptr<LogWriter>> open(const std::string& path);
  /// Writes what is pending, then stops the writer.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  /// Queues `text` (whole lines); false when it was dropped.
  bool append(std::string_view text);
  /// Returns once everything appended before the call has been written (or failed).
  void flush();

  uint64_t written() const { return written_.load(std::memory_order_relaxed); }  // bytes
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }  // appends
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }    // write errors

 private:
  explicit LogWriter(Fd fd);
  void run();
  void writeAll(const std::string& batch);

  Fd fd_;
  std::mutex mutex_;
  std::condition_variable wake_, flushed_;
  std::string pending_;
  uint64_t appended_ = 0, done_ = 0;  // batches: what flush() waits for
  bool stopping_ = false, flushWanted_ = false;
  std::atomic<uint64_t> written_{0}, dropped_{0}, failed_{0};
  std::thread thread_;
};

}  // namespace netlab
