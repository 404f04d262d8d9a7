#include "netlab/load/load_worker.h"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>

#include "netlab/io/clock.h"
#include "netlab/load/load_client.h"

namespace netlab {
namespace {

constexpr int64_t kTickNs = 10 * kNsPerMs;  // timeouts, ramp-up pacing and second boundaries

}  // namespace

LoadWorker::LoadWorker(const LoadConfig& config, const Scenario& scenario,
                       const Endpoint& endpoint, std::unique_ptr<EventLoop> loop, Plan plan)
    : config_(config), scenario_(scenario), endpoint_(endpoint), loop_(std::move(loop)),
      plan_(plan) {
  budgetLeft_ = plan_.budget;
  budgeted_ = config_.requests > 0;
  for (int i = 0; i < plan_.connections; ++i) {
    // Connection k of N sends at k/N of the interval: together they send at a steady rate.
    int64_t phase = 0;
    if (plan_.intervalNs > 0) {
      int global = plan_.firstGlobalIndex + i;
      phase = plan_.intervalNs * global / std::max(1, config_.connections);
    }
    clients_.push_back(std::make_unique<LoadClient>(*this, plan_.firstGlobalIndex + i, phase));
  }
}

LoadWorker::~LoadWorker() { join(); }

void LoadWorker::start(int64_t startNs, int64_t deadlineNs) {
  startNs_ = startNs;
  deadlineNs_ = deadlineNs;
  thread_ = std::thread([this] { run(); });
}

void LoadWorker::join() {
  if (thread_.joinable()) thread_.join();
}

void LoadWorker::stop() {
  loop_->post([this] {
    stopping_ = true;
    loop_->stop();
  });
}

void LoadWorker::run() {
  // Open-loop sends are timer driven: 1 us of timer slack instead of the default 50 us.
  ::prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  if (budgeted_ && budgetLeft_ == 0) stopping_ = true;  // nothing for this worker to do
  if (!stopping_) {
    if (deadlineNs_ > 0) {
      loop_->runAt(deadlineNs_, [this] {
        stopping_ = true;
        loop_->stop();
      });
    }
    startMoreConnections(nowNs());
    loop_->runAt(nowNs() + kTickNs, [this] { onTick(); });
    loop_->run();
  }
  int64_t end = nowNs();
  for (auto& c : clients_) c->shutdown();
  rollSeconds(end);
  {
    // The partial last second still counts in the timeline.
    std::lock_guard<std::mutex> lock(secondsMutex_);
    if (current_.requests + current_.responses + current_.errors > 0) {
      current_.p50 = secondLatency_.percentile(50);
      current_.p90 = secondLatency_.percentile(90);
      current_.p99 = secondLatency_.percentile(99);
      current_.max = secondLatency_.max();
      seconds_.push_back({current_, secondLatency_.sparse()});
    }
  }
  syscalls_.wait = loop_->waits();
  timespec cpu{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  cpuSec_ = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
  finished_.store(true, std::memory_order_release);
}

// Ramp-up: paced by connect_rate when given; otherwise as fast as the in-flight cap allows.
void LoadWorker::startMoreConnections(int64_t now) {
  size_t target = clients_.size();
  if (plan_.connectRate > 0) {
    double elapsed = static_cast<double>(now - startNs_) / kNsPerSec;
    target = std::min(target, static_cast<size_t>(elapsed * plan_.connectRate) + 1);
  }
  while (started_ < target && connectsInFlight_ < LoadConfig::kMaxConnectsInFlight &&
         !stopping_ && canReconnect()) {
    clients_[started_++]->connect();
  }
}

void LoadWorker::onTick() {
  int64_t now = nowNs();
  for (auto& c : clients_) c->checkTimeouts(now);
  startMoreConnections(now);
  rollSeconds(now);
  if (!stopping_) loop_->runAt(now + kTickNs, [this] { onTick(); });
}

void LoadWorker::connectFinished() {
  --connectsInFlight_;
  if (started_ < clients_.size()) startMoreConnections(nowNs());
}

bool LoadWorker::takeRequest() {
  if (stopping_) return false;
  if (!budgeted_) return true;
  if (budgetLeft_ == 0) return false;
  --budgetLeft_;
  return true;
}

bool LoadWorker::canReconnect() const { return !stopping_ && (!budgeted_ || budgetLeft_ > 0); }

void LoadWorker::maybeFinish() {
  if (budgeted_ && budgetLeft_ == 0 && inflight_ == 0 && !stopping_) {
    stopping_ = true;
    loop_->stop();
  }
}

void LoadWorker::noteSent(size_t count, size_t bytes, int64_t now) {
  rollSeconds(now);
  requests.fetch_add(count, std::memory_order_relaxed);
  bytesOut.fetch_add(bytes, std::memory_order_relaxed);
  current_.requests += count;
  current_.bytesOut += bytes;
}

void LoadWorker::noteReceived(size_t bytes) {
  bytesIn.fetch_add(bytes, std::memory_order_relaxed);
  current_.bytesIn += bytes;
}

void LoadWorker::noteResponse(int64_t intendedNs, int64_t sentNs, int64_t nowNs) {
  rollSeconds(nowNs);
  uint64_t corrected = static_cast<uint64_t>(std::max<int64_t>(0, nowNs - intendedNs));
  latency_.record(corrected);
  uncorrected_.record(static_cast<uint64_t>(std::max<int64_t>(0, nowNs - sentNs)));
  secondLatency_.record(corrected);
  ++current_.responses;
  responses.fetch_add(1, std::memory_order_relaxed);
}

void LoadWorker::noteFailure(LoadError kind, const std::string& why, size_t failedRequests) {
  rollSeconds(nowNs());
  size_t k = static_cast<size_t>(kind);
  errorsByKind_[k] += failedRequests;
  if (firstErrors_[k].empty()) firstErrors_[k] = why;
  current_.errors += failedRequests;
  errors.fetch_add(failedRequests, std::memory_order_relaxed);
}

void LoadWorker::rollSeconds(int64_t now) {
  int second = static_cast<int>((now - startNs_) / kNsPerSec);
  while (current_.second < second) {
    current_.p50 = secondLatency_.percentile(50);
    current_.p90 = secondLatency_.percentile(90);
    current_.p99 = secondLatency_.percentile(99);
    current_.max = secondLatency_.max();
    {
      std::lock_guard<std::mutex> lock(secondsMutex_);
      seconds_.push_back({current_, secondLatency_.sparse()});
    }
    secondLatency_.clear();
    int next = current_.second + 1;
    current_ = TimelinePoint{};
    current_.second = next;
  }
}

std::vector<WorkerSecond> LoadWorker::secondsFrom(size_t from) const {
  std::lock_guard<std::mutex> lock(secondsMutex_);
  if (from >= seconds_.size()) return {};
  return {seconds_.begin() + static_cast<long>(from), seconds_.end()};
}

}  // namespace netlab
