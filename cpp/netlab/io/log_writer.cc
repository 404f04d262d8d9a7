#include "netlab/io/log_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace netlab {

Result<std::unique_ptr<LogWriter>> LogWriter::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    return Error{err, "cannot open " + path + " for appending: " + std::strerror(err)};
  }
  return std::unique_ptr<LogWriter>(new LogWriter(Fd(fd)));
}

LogWriter::LogWriter(Fd fd) : fd_(std::move(fd)) {
  pending_.reserve(kBatch);
  thread_ = std::thread([this] { run(); });
}

LogWriter::~LogWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

bool LogWriter::append(std::string_view text) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_.size() + text.size() > kMaxPending) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    size_t before = pending_.size();
    pending_.append(text);
    ++appended_;
    wake = before < kBatch && pending_.size() >= kBatch;
  }
  if (wake) wake_.notify_one();
  return true;
}

void LogWriter::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t target = appended_;
  flushWanted_ = true;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return done_ >= target; });
}

// Wakes on a full batch, a flush, a stop, or every kFlushInterval; writes outside the lock,
// so appenders wait at most for a swap.
void LogWriter::run() {
  std::string batch;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::milliseconds(kFlushIntervalMs),
                   [&] { return stopping_ || flushWanted_ || pending_.size() >= kBatch; });
    flushWanted_ = false;
    batch.swap(pending_);
    uint64_t upTo = appended_;
    bool stop = stopping_;
    lock.unlock();
    if (!batch.empty()) writeAll(batch);
    batch.clear();
    lock.lock();
    done_ = upTo;
    flushed_.notify_all();
    if (stop && pending_.empty()) return;
  }
}

void LogWriter::writeAll(const std::string& batch) {
  size_t at = 0;
  while (at < batch.size()) {
    ssize_t n = ::write(fd_.get(), batch.data() + at, batch.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // a full or failing disk: this batch is lost, the next is tried anew
      failed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    at += static_cast<size_t>(n);
    written_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  }
}

}  // namespace netlab
