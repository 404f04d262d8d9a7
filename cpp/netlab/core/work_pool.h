// A few threads for work that must not run on an event loop: disk writes, fsync, hashing a
// file (libuv's uv_queue_work and its 4-thread pool). A job hands its result back to the
// connection that asked with Outlet::post, so the loop never waits on a disk.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace netlab {

class WorkPool {
 public:
  explicit WorkPool(int threads);
  /// Runs the jobs still queued, then joins: a queued write is never lost to a stop.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  /// Queues `job` for the next free thread.
  void submit(std::function<void()> job);
  /// Returns once every job submitted before the call has run.
  void wait();

 private:
  void run();
  void stopAndJoin();

  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::function<void()>> jobs_;
  int running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace netlab
