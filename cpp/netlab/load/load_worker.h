// One load-generator thread: its own epoll loop and its share of the connections, the
// latency histograms and the per-second timeline. Nothing here is shared with other workers
// except the live counters, which are atomics written only by this thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "netlab/io/event_loop.h"
#include "netlab/io/socket.h"
#include "netlab/io/stream.h"
#include "netlab/load/histogram.h"
#include "netlab/load/load_config.h"
#include "netlab/load/load_result.h"
#include "netlab/load/scenario.h"

namespace netlab {

class LoadClient;

/// A finished second of one worker; `latency` is a sparse histogram.
struct WorkerSecond {
  TimelinePoint point;
  std::vector<std::pair<uint32_t, uint64_t>> latency;
};

class LoadWorker {
 public:
  struct Plan {
    int connections = 0;
    uint64_t budget = 0;       // 0: unlimited
    double connectRate = 0;    // this worker's share; 0: unpaced
    int64_t intervalNs = 0;    // open loop: time between one connection's requests
    int firstGlobalIndex = 0;  // for the open-loop phase of each connection
  };

  LoadWorker(const LoadConfig& config, const Scenario& scenario, const Endpoint& endpoint,
             std::unique_ptr<EventLoop> loop, Plan plan);
  ~LoadWorker();

  /// Runs on its own thread until the deadline, the budget, or stop().
  void start(int64_t startNs, int64_t deadlineNs);
  /// As start(), but runs nothing yet: the caller's thread runs the loop with runFor().
  void startHere(int64_t startNs, int64_t deadlineNs);
  /// Runs the loop on the calling thread for at most `ns` (less when a signal arrives);
  /// true once the worker has finished.
  bool runFor(int64_t ns);
  void join();
  /// No new requests; those in flight get a short drain, then the worker finishes.
  void stop();
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  // Live counters, readable from any thread, written by this worker's thread alone (addOwned).
  std::atomic<uint64_t> requests{0}, responses{0}, errors{0}, bytesIn{0}, bytesOut{0};
  std::atomic<uint64_t> connectionsOpened{0};

  /// Seconds finished since `from` (an index into this worker's timeline).
  std::vector<WorkerSecond> secondsFrom(size_t from) const;

  // After join():
  const Histogram& latency() const { return latency_; }
  const Histogram& latencyUncorrected() const { return uncorrected_; }
  const SyscallCounts& syscalls() const { return syscalls_; }
  double cpuSec() const { return cpuSec_; }
  /// Requests still unanswered after the drain, and how long the oldest had waited.
  uint64_t unanswered() const { return unanswered_; }
  int64_t oldestUnansweredAgeNs() const { return oldestUnansweredAgeNs_; }
  /// Connections that sent a request and received nothing in the whole run.
  uint64_t neverAnswered() const { return neverAnsweredAtEnd_; }
  /// When sending stopped (the deadline, stop(), or the end of the budget).
  int64_t sendEndNs() const { return sendEndNs_; }
  const std::array<uint64_t, kLoadErrorKinds>& errorsByKind() const { return errorsByKind_; }
  const std::array<std::string, kLoadErrorKinds>& firstErrors() const { return firstErrors_; }
  const std::array<uint64_t, 600>& statusCodes() const { return statusCodes_; }

 private:
  friend class LoadClient;

  // Called by clients, on this thread.
  bool takeRequest();
  uint64_t nextSeq() { return nextSeq_++; }
  void noteSent(size_t requests, size_t bytes, int64_t nowNs);
  void noteReceived(size_t bytes);
  /// A response, or in a streaming scenario one delivery, timed from its stamps.
  void noteResponse(int64_t intendedNs, int64_t sentNs, int64_t nowNs);
  void noteFailure(LoadError kind, const std::string& why, size_t failedRequests);
  /// An HTTP response's status code (100-599), counted by code.
  void noteStatus(int status) {
    if (status >= 100 && status < static_cast<int>(statusCodes_.size())) ++statusCodes_[status];
  }
  void noteInflight(int delta) { inflight_ += delta; }
  void noteWaitingForFirstAnswer(int delta) { waitingForFirstAnswer_ += delta; }
  void connectFinished();
  bool canReconnect() const;
  void maybeFinish();
  /// One-way streams (syslog) with a request budget: the run ends once the budget is spent
  /// and every connection's output is written.
  void maybeFinishOneWay();
  void finishSoon();
  void recordUnanswered(int64_t nowNs);
  void closeSecond();

  void run();
  /// The first and last steps of a run, on the thread that runs the loop.
  void begin();
  void end();
  /// CPU time of the calling thread so far (CLOCK_THREAD_CPUTIME_ID).
  static double threadCpuSec();
  void startMoreConnections(int64_t nowNs);
  void onTick();
  void rollSeconds(int64_t nowNs);

  const LoadConfig& config_;
  const Scenario& scenario_;
  // The scenario's fixed traits, read once: each connection asks on every response.
  const bool streaming_;
  const bool oneWay_;
  const bool connectionPerRequest_;
  Endpoint endpoint_;
  std::unique_ptr<EventLoop> loop_;
  Plan plan_;
  StreamOptions streamOptions_;  // every client's stream's: declared before the clients
  std::vector<std::unique_ptr<LoadClient>> clients_;
  std::thread thread_;
  std::atomic<bool> finished_{false};

  int64_t startNs_ = 0;
  int64_t deadlineNs_ = 0;
  int64_t nextTimeoutScanNs_ = 0;  // see onTick
  uint64_t budgetLeft_ = 0;
  bool budgeted_ = false;
  bool stopping_ = false;
  bool draining_ = false;
  int64_t sendEndNs_ = 0;
  int64_t waitingForFirstAnswer_ = 0;
  uint64_t unanswered_ = 0;
  int64_t oldestUnansweredAgeNs_ = 0;
  uint64_t neverAnsweredAtEnd_ = 0;
  uint64_t nextSeq_ = 0;
  int64_t inflight_ = 0;
  size_t started_ = 0;  // clients started (ramp-up)
  int connectsInFlight_ = 0;

  Histogram latency_, uncorrected_, secondLatency_;
  TimelinePoint current_;
  mutable std::mutex secondsMutex_;
  std::vector<WorkerSecond> seconds_;
  SyscallCounts syscalls_;
  std::atomic<uint64_t> readCalls_{0}, writeCalls_{0};  // into syscalls_ when the run ends
  std::array<uint64_t, kLoadErrorKinds> errorsByKind_{};
  std::array<uint64_t, 600> statusCodes_{};  // read after join()
  std::array<std::string, kLoadErrorKinds> firstErrors_{};
  double cpuSec_ = 0;
  unsigned long callerTimerSlack_ = 0;  // restored when a run on the caller's thread ends
};

}  // namespace netlab
