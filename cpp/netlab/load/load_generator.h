// The load generator: T worker threads, each with its own epoll loop and N/T connections,
// sharing only the io and codec code with the servers. It always stops by itself: at the
// duration, at the request budget, or on stop().
#pragma once

#include <memory>
#include <vector>

#include "netlab/io/fd_limit.h"
#include "netlab/load/idle_connections.h"
#include "netlab/load/load_config.h"
#include "netlab/load/load_result.h"
#include "netlab/load/load_worker.h"
#include "netlab/load/scenario.h"

namespace netlab {

/// What the run has done so far, for progress lines and live dashboards.
struct LoadProgress {
  double elapsedSec = 0;
  uint64_t requests = 0, responses = 0, errors = 0, bytesIn = 0, bytesOut = 0;
  uint64_t connections = 0;
  bool finished = false;
  /// Seconds completed since the previous call (merged across workers).
  std::vector<TimelinePoint> newSeconds;
};

class LoadGenerator {
 public:
  static Result<std::unique_ptr<LoadGenerator>> create(LoadConfig config);
  /// Use create(), which validates the config and plans the workers.
  LoadGenerator(LoadConfig config, std::unique_ptr<Scenario> scenario, Endpoint endpoint);
  ~LoadGenerator();

  /// Opens the idle connections (idle_connections), for at most `sliceNs`; true once all
  /// have been tried. start() calls it until done; calling it first in short slices lets a
  /// caller stay responsive (Ctrl+C) while thousands connect.
  bool openIdle(int64_t sliceNs);
  Status start() { return start(false); }
  /// With `onThisThread` and one worker, no thread is started: wait() runs the worker's
  /// loop on the caller's thread, so the process keeps a single thread (system calls on
  /// sockets are cheaper then). Must then be waited for on the same thread.
  Status start(bool onThisThread);
  /// Blocks up to timeoutSec (returning early when a signal arrives, for a run on this
  /// thread); true once every worker has finished.
  bool wait(double timeoutSec);
  /// Asks every worker to finish now; idempotent.
  void stop();
  bool finished() const;
  LoadProgress progress();
  /// The merged result; call once finished.
  LoadResult result() const;
  const LoadConfig& config() const { return config_; }

 private:
  std::vector<TimelinePoint> mergeSeconds(size_t from, size_t* upTo) const;

  LoadConfig config_;
  std::unique_ptr<Scenario> scenario_;
  Endpoint endpoint_;
  std::vector<std::unique_ptr<LoadWorker>> workers_;
  std::unique_ptr<IdleConnections> idle_;
  int64_t startNs_ = 0;
  int64_t endNs_ = 0;
  bool started_ = false;
  bool here_ = false;  // the one worker runs inside wait(), on the caller's thread
  size_t secondsReported_ = 0;
};

}  // namespace netlab
