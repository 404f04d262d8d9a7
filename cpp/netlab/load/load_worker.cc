#include "netlab/load/load_worker.h"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <utility>

#include "netlab/io/clock.h"
#include "netlab/io/owned_counter.h"
#include "netlab/load/load_client.h"

namespace netlab {
namespace {

constexpr int64_t kTickNs = 10 * kNsPerMs;  // timeouts, ramp-up pacing and second boundaries
constexpr int64_t kMaxTimeoutScanNs = 100 * kNsPerMs;
// At the end of a run, requests in flight get this long (at most the response timeout) to
// come back, so the last ones are counted as answered or unanswered rather than vanishing.
constexpr int64_t kMaxDrainNs = kNsPerSec;

}  // namespace

LoadWorker::LoadWorker(const LoadConfig& config, const Scenario& scenario, const Endpoint& endpoint,
                       std::unique_ptr<EventLoop> loop, Plan plan)
    : config_(config),
      scenario_(scenario),
      streaming_(scenario.streaming()),
      oneWay_(scenario.oneWay()),
      connectionPerRequest_(scenario.connectionPerRequest()),
      endpoint_(endpoint),
      loop_(std::move(loop)),
      plan_(plan) {
  budgetLeft_ = plan_.budget;
  budgeted_ = config_.requests > 0;
  streamOptions_.pauseOnHighWater = false;  // responses are read whatever is still to be sent
  streamOptions_.reads = &readCalls_;
  streamOptions_.writes = &writeCalls_;
  streamOptions_.countersOwned = true;
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

void LoadWorker::startHere(int64_t startNs, int64_t deadlineNs) {
  startNs_ = startNs;
  deadlineNs_ = deadlineNs;
  callerTimerSlack_ = static_cast<unsigned long>(::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  double cpu = threadCpuSec();
  begin();
  cpuSec_ += threadCpuSec() - cpu;
  if (stopping_) {
    end();
    ::prctl(PR_SET_TIMERSLACK, callerTimerSlack_, 0, 0, 0);
  }
}

bool LoadWorker::runFor(int64_t ns) {
  if (finished()) return true;
  double cpu = threadCpuSec();
  Status s = loop_->runFor(ns);
  cpuSec_ += threadCpuSec() - cpu;
  if (!s.ok()) noteFailure(LoadError::kOther, s.error().message, 1);
  if (loop_->stopped() || !s.ok()) {
    end();
    ::prctl(PR_SET_TIMERSLACK, callerTimerSlack_, 0, 0, 0);
  }
  return finished();
}

void LoadWorker::join() {
  if (thread_.joinable()) thread_.join();
}

void LoadWorker::stop() {
  loop_->post([this] { finishSoon(); });
}

double LoadWorker::threadCpuSec() {
  timespec cpu{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  return static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
}

void LoadWorker::run() {
  double cpu = threadCpuSec();
  begin();
  if (!stopping_) {
    Status s = loop_->run();  // only the poller itself can fail: the run ends, and says why
    if (!s.ok()) noteFailure(LoadError::kOther, s.error().message, 1);
  }
  end();
  cpuSec_ += threadCpuSec() - cpu;
}

void LoadWorker::begin() {
  loop_->adoptThisThread();
  // Open-loop sends are timer driven: 1 us of timer slack instead of the default 50 us.
  ::prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  if (budgeted_ && budgetLeft_ == 0) stopping_ = true;  // nothing for this worker to do
  if (stopping_) return;
  if (deadlineNs_ > 0) loop_->runAt(deadlineNs_, [this] { finishSoon(); });
  startMoreConnections(nowNs());
  loop_->runAt(nowNs() + kTickNs, [this] { onTick(); });
}

void LoadWorker::end() {
  int64_t end = nowNs();
  if (sendEndNs_ == 0) sendEndNs_ = end;
  rollSeconds(end);
  recordUnanswered(end);
  for (auto& c : clients_) c->shutdown();
  // The partial last second still counts in the timeline.
  if (current_.requests + current_.responses + current_.errors + current_.unanswered > 0) {
    closeSecond();
  }
  syscalls_.wait = loop_->waits();
  syscalls_.read = readCalls_.load(std::memory_order_relaxed);
  syscalls_.write = writeCalls_.load(std::memory_order_relaxed);
  finished_.store(true, std::memory_order_release);
}

// Ramp-up: paced by connect_rate when given; otherwise as fast as the in-flight cap allows.
void LoadWorker::startMoreConnections(int64_t now) {
  size_t target = clients_.size();
  if (plan_.connectRate > 0) {
    double elapsed = static_cast<double>(now - startNs_) / kNsPerSec;
    target = std::min(target, static_cast<size_t>(elapsed * plan_.connectRate) + 1);
  }
  while (started_ < target && connectsInFlight_ < LoadConfig::kMaxConnectsInFlight && !stopping_ &&
         canReconnect()) {
    clients_[started_++]->connect();
  }
}

// Response timeouts are scanned less often than the tick: the scan reads every connection,
// and at 10 ms a thousand connections' state would go through the cache a hundred times a
// second for a timeout that is usually seconds. Every tenth of the timeout (at least a tick,
// at most 100 ms), so a timeout fires at most a tenth of itself late, or a tick as before.
void LoadWorker::onTick() {
  int64_t now = nowNs();
  if (now >= nextTimeoutScanNs_) {
    int64_t timeoutNs = static_cast<int64_t>(config_.responseTimeoutSec * kNsPerSec);
    nextTimeoutScanNs_ = now + std::clamp<int64_t>(timeoutNs / 10, kTickNs, kMaxTimeoutScanNs);
    for (auto& c : clients_) c->checkTimeouts(now, timeoutNs);
  }
  startMoreConnections(now);
  rollSeconds(now);
  if (!stopping_ || draining_) loop_->runAt(now + kTickNs, [this] { onTick(); });
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
  if (inflight_ != 0) return;
  if (draining_) {
    loop_->stop();
  } else if (budgeted_ && budgetLeft_ == 0 && !stopping_) {
    stopping_ = true;
    sendEndNs_ = nowNs();
    loop_->stop();
  }
}

void LoadWorker::maybeFinishOneWay() {
  if (!budgeted_ || budgetLeft_ != 0 || stopping_) return;
  for (const auto& c : clients_) {
    if (c->queuedOutput() > 0) return;
  }
  stopping_ = true;
  sendEndNs_ = nowNs();
  loop_->stop();
}

// The deadline or stop(): no new requests or connections from here on.
void LoadWorker::finishSoon() {
  if (draining_) return;
  draining_ = true;
  stopping_ = true;
  sendEndNs_ = nowNs();
  if (inflight_ == 0 || streaming_) {
    loop_->stop();
    return;
  }
  int64_t drain =
      std::min<int64_t>(kMaxDrainNs, static_cast<int64_t>(config_.responseTimeoutSec * kNsPerSec));
  loop_->runAt(sendEndNs_ + drain, [this] { loop_->stop(); });
}

void LoadWorker::recordUnanswered(int64_t now) {
  for (const auto& c : clients_) {
    unanswered_ += c->unansweredCount();
    int64_t oldest = c->oldestInflightNs();
    if (oldest > 0) oldestUnansweredAgeNs_ = std::max(oldestUnansweredAgeNs_, now - oldest);
    if (c->neverAnswered()) ++neverAnsweredAtEnd_;
  }
  current_.unanswered = unanswered_;
  current_.inflight = static_cast<uint64_t>(std::max<int64_t>(0, inflight_));
  current_.neverAnswered = neverAnsweredAtEnd_;
}

void LoadWorker::noteSent(size_t count, size_t bytes, int64_t now) {
  rollSeconds(now);
  addOwned(requests, count);
  addOwned(bytesOut, bytes);
  current_.requests += count;
  current_.bytesOut += bytes;
}

void LoadWorker::noteReceived(size_t bytes) {
  addOwned(bytesIn, bytes);
  current_.bytesIn += bytes;
}

void LoadWorker::noteResponse(int64_t intendedNs, int64_t sentNs, int64_t nowNs) {
  rollSeconds(nowNs);
  // The run's corrected histogram takes each second's whole when the second closes
  // (closeSecond): a response costs two records, not three.
  secondLatency_.record(static_cast<uint64_t>(std::max<int64_t>(0, nowNs - intendedNs)));
  uncorrected_.record(static_cast<uint64_t>(std::max<int64_t>(0, nowNs - sentNs)));
  ++current_.responses;
  addOwned(responses, 1);
}

void LoadWorker::noteFailure(LoadError kind, const std::string& why, size_t failedRequests) {
  rollSeconds(nowNs());
  size_t k = static_cast<size_t>(kind);
  errorsByKind_[k] += failedRequests;
  if (firstErrors_[k].empty()) firstErrors_[k] = why;
  current_.errors += failedRequests;
  addOwned(errors, failedRequests);
}

void LoadWorker::rollSeconds(int64_t now) {
  int second = static_cast<int>((now - startNs_) / kNsPerSec);
  while (current_.second < second) {
    current_.inflight = static_cast<uint64_t>(std::max<int64_t>(0, inflight_));
    current_.neverAnswered = static_cast<uint64_t>(std::max<int64_t>(0, waitingForFirstAnswer_));
    closeSecond();
    int next = current_.second + 1;
    current_ = TimelinePoint{};
    current_.second = next;
  }
}

void LoadWorker::closeSecond() {
  current_.p50 = secondLatency_.percentile(50);
  current_.p90 = secondLatency_.percentile(90);
  current_.p99 = secondLatency_.percentile(99);
  current_.max = secondLatency_.max();
  auto sparse = secondLatency_.sparse();
  latency_.merge(secondLatency_);
  secondLatency_.clear();
  std::lock_guard<std::mutex> lock(secondsMutex_);
  seconds_.push_back({current_, std::move(sparse)});
}

std::vector<WorkerSecond> LoadWorker::secondsFrom(size_t from) const {
  std::lock_guard<std::mutex> lock(secondsMutex_);
  if (from >= seconds_.size()) return {};
  return {seconds_.begin() + static_cast<long>(from), seconds_.end()};
}

}  // namespace netlab
