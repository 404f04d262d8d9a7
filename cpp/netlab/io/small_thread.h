// A thread with a small stack, for the thread-per-connection model: glibc's default 8 MiB of
// stack per thread is address space that 10,000 connections do not need (80 GB reserved);
// 256 KiB holds the deepest path here (a 64 KiB read spill buffer and a handler's work).
#pragma once

#include <pthread.h>

#include <functional>
#include <memory>

#include "netlab/io/result.h"

namespace netlab {

class SmallThread {
 public:
  static constexpr size_t kStackBytes = 256 << 10;

  SmallThread() = default;
  ~SmallThread();  // joins, as a thread may not outlive the object that runs it
  SmallThread(SmallThread&& other) noexcept;
  SmallThread& operator=(SmallThread&& other) noexcept;
  SmallThread(const SmallThread&) = delete;
  SmallThread& operator=(const SmallThread&) = delete;

  /// Starts `body` on a new thread; an Error (EAGAIN) when the system has no more threads.
  static Result<SmallThread> start(std::function<void()> body);
  bool joinable() const { return started_; }
  void join();

 private:
  pthread_t id_{};
  bool started_ = false;
};

}  // namespace netlab
