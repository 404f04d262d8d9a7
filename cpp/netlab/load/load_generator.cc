#include "netlab/load/load_generator.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "netlab/io/clock.h"

namespace netlab {

Result<std::unique_ptr<LoadGenerator>> LoadGenerator::create(LoadConfig config) {
  Status valid = validate(config);
  if (!valid.ok()) return valid.error();
  auto scenario = makeScenario(config);
  if (!scenario.ok()) return scenario.error();
  auto endpoint = resolveEndpoint(config.host, config.port);
  if (!endpoint.ok()) return endpoint.error();
  Status fds = raiseFdLimit(static_cast<size_t>(config.connections) +
                            static_cast<size_t>(config.idleConnections));
  if (!fds.ok()) return fds.error();
  auto gen = std::make_unique<LoadGenerator>(std::move(config), std::move(scenario.value()),
                                             endpoint.value());
  const LoadConfig& c = gen->config_;
  int threads = std::min(c.threads, c.connections);
  int64_t intervalNs = c.rate > 0 ? static_cast<int64_t>(c.connections / c.rate * kNsPerSec) : 0;
  int first = 0;
  for (int t = 0; t < threads; ++t) {
    LoadWorker::Plan plan;
    plan.connections = c.connections / threads + (t < c.connections % threads ? 1 : 0);
    plan.budget = c.requests / threads + (t < static_cast<int>(c.requests % threads) ? 1 : 0);
    plan.connectRate = c.connectRate / threads;
    plan.intervalNs = intervalNs;
    plan.firstGlobalIndex = first;
    first += plan.connections;
    auto loop = EventLoop::create("epoll");
    if (!loop.ok()) return loop.error();
    gen->workers_.push_back(std::make_unique<LoadWorker>(
        gen->config_, *gen->scenario_, gen->endpoint_, std::move(loop.value()), plan));
  }
  if (c.idleConnections > 0) {
    auto idle = IdleConnections::create(gen->endpoint_, c.idleConnections,
                                        static_cast<int64_t>(c.connectTimeoutSec * kNsPerSec));
    if (!idle.ok()) return idle.error();
    gen->idle_ = std::move(idle.value());
  }
  return gen;
}

bool LoadGenerator::openIdle(int64_t sliceNs) { return !idle_ || idle_->openFor(sliceNs); }

LoadGenerator::LoadGenerator(LoadConfig config, std::unique_ptr<Scenario> scenario,
                             Endpoint endpoint)
    : config_(std::move(config)), scenario_(std::move(scenario)), endpoint_(endpoint) {}

LoadGenerator::~LoadGenerator() {
  stop();
  for (auto& w : workers_) w->join();
}

Status LoadGenerator::start(bool onThisThread) {
  if (started_) return Error{EALREADY, "the load generator has already run"};
  started_ = true;
  while (!openIdle(kNsPerSec)) {
  }
  startNs_ = nowNs();
  int64_t deadline = config_.durationSec > 0
                         ? startNs_ + static_cast<int64_t>(config_.durationSec * kNsPerSec)
                         : 0;
  here_ = onThisThread && workers_.size() == 1;
  if (here_) {
    workers_.front()->startHere(startNs_, deadline);
  } else {
    for (auto& w : workers_) w->start(startNs_, deadline);
  }
  return {};
}

// Threads: polls in 5 ms steps; the workers finish on their own clocks and the caller only
// needs to learn it promptly (a condition variable would buy nothing measurable here).
bool LoadGenerator::wait(double timeoutSec) {
  if (here_ && !finished()) {
    workers_.front()->runFor(static_cast<int64_t>(timeoutSec * kNsPerSec));
    if (!finished()) return false;
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeoutSec);
  while (!finished()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& w : workers_) w->join();
  if (endNs_ == 0) endNs_ = nowNs();
  if (idle_) idle_->finish();  // the run is over: let the server have them back
  return true;
}

void LoadGenerator::stop() {
  if (!started_) return;
  for (auto& w : workers_) {
    if (!w->finished()) w->stop();
  }
}

bool LoadGenerator::finished() const {
  if (!started_) return false;
  return std::all_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->finished(); });
}

std::vector<TimelinePoint> LoadGenerator::mergeSeconds(size_t from, size_t* upTo) const {
  // Only seconds every worker has finished are merged, so a point never changes later.
  size_t common = SIZE_MAX;
  std::vector<std::vector<WorkerSecond>> perWorker;
  for (const auto& w : workers_) {
    perWorker.push_back(w->secondsFrom(from));
    common = std::min(common, from + perWorker.back().size());
  }
  if (finished()) {
    common = 0;
    for (const auto& s : perWorker) common = std::max(common, from + s.size());
  }
  std::vector<TimelinePoint> out;
  for (size_t i = from; i < common; ++i) {
    TimelinePoint p;
    p.second = static_cast<int>(i);
    Histogram h;
    for (const auto& seconds : perWorker) {
      if (i - from >= seconds.size()) continue;
      const WorkerSecond& s = seconds[i - from];
      p.requests += s.point.requests;
      p.responses += s.point.responses;
      p.errors += s.point.errors;
      p.bytesIn += s.point.bytesIn;
      p.bytesOut += s.point.bytesOut;
      p.inflight += s.point.inflight;
      p.neverAnswered += s.point.neverAnswered;
      p.unanswered += s.point.unanswered;
      h.addSparse(s.latency);
    }
    p.p50 = h.percentile(50);
    p.p90 = h.percentile(90);
    p.p99 = h.percentile(99);
    p.max = h.max();
    out.push_back(p);
  }
  *upTo = common;
  return out;
}

LoadProgress LoadGenerator::progress() {
  LoadProgress p;
  p.finished = finished();
  p.elapsedSec =
      started_ ? static_cast<double>((endNs_ ? endNs_ : nowNs()) - startNs_) / kNsPerSec : 0;
  for (const auto& w : workers_) {
    p.requests += w->requests.load(std::memory_order_relaxed);
    p.responses += w->responses.load(std::memory_order_relaxed);
    p.errors += w->errors.load(std::memory_order_relaxed);
    p.bytesIn += w->bytesIn.load(std::memory_order_relaxed);
    p.bytesOut += w->bytesOut.load(std::memory_order_relaxed);
    p.connections += w->connectionsOpened.load(std::memory_order_relaxed);
  }
  size_t upTo = secondsReported_;
  p.newSeconds = mergeSeconds(secondsReported_, &upTo);
  secondsReported_ = upTo;
  return p;
}

LatencySummary summarize(const Histogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.min = h.min();
  s.p50 = h.percentile(50);
  s.p90 = h.percentile(90);
  s.p99 = h.percentile(99);
  s.p999 = h.percentile(99.9);
  s.max = h.max();
  s.mean = h.mean();
  return s;
}

LoadResult LoadGenerator::result() const {
  LoadResult r;
  r.openLoop = config_.rate > 0;
  r.targetRate = config_.rate;
  r.connections = config_.connections;
  // Rates are over the time requests were being sent; the end-of-run drain is not in it.
  int64_t sendEnd = 0;
  for (const auto& w : workers_) sendEnd = std::max(sendEnd, w->sendEndNs());
  if (sendEnd == 0) sendEnd = endNs_ ? endNs_ : nowNs();
  r.durationSec = static_cast<double>(sendEnd - startNs_) / kNsPerSec;
  Histogram latency, uncorrected;
  for (const auto& w : workers_) {
    r.unanswered += w->unanswered();
    r.oldestUnansweredAgeNs = std::max(r.oldestUnansweredAgeNs, w->oldestUnansweredAgeNs());
    r.neverAnswered += w->neverAnswered();
    r.requests += w->requests.load();
    r.responses += w->responses.load();
    r.errors += w->errors.load();
    r.bytesIn += w->bytesIn.load();
    r.bytesOut += w->bytesOut.load();
    r.connectionsOpened += w->connectionsOpened.load();
    latency.merge(w->latency());
    uncorrected.merge(w->latencyUncorrected());
    r.syscalls.read += w->syscalls().read;
    r.syscalls.write += w->syscalls().write;
    r.syscalls.wait += w->syscalls().wait;
    r.syscalls.connect += w->syscalls().connect;
    r.cpuSec += w->cpuSec();
    for (size_t k = 0; k < kLoadErrorKinds; ++k) {
      r.errorsByKind[k] += w->errorsByKind()[k];
      if (r.firstErrorMessage[k].empty()) r.firstErrorMessage[k] = w->firstErrors()[k];
    }
  }
  for (size_t code = 100; code < 600; ++code) {
    uint64_t n = 0;
    for (const auto& w : workers_) n += w->statusCodes()[code];
    if (n == 0) continue;
    r.statusCodes.emplace_back(static_cast<int>(code), n);
    if (code < 200 || code >= 300) r.non2xx += n;
  }
  if (idle_) {
    const IdleConnections::Counts& idle = idle_->counts();
    r.idleOpened = idle.opened;
    r.idleFailed = idle.failed;
    r.idleDropped = idle.dropped;
    r.idleError = idle.firstFailure;
  }
  r.spectrum = latency.spectrum();
  r.spectrumUncorrected = uncorrected.spectrum();
  r.latency = summarize(latency);
  r.latencyUncorrected = summarize(uncorrected);
  size_t upTo = 0;
  r.timeline = mergeSeconds(0, &upTo);
  return r;
}

}  // namespace netlab
