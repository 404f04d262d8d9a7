// Active health checks (nginx's health_check, HAProxy's option httpchk): every interval, each
// upstream is sent "GET path" on a connection of its own, and an answer of 2xx or 3xx within
// the interval passes. `fails` failures in a row mark the upstream down and `passes` passes
// in a row bring it back (HAProxy's fall and rise). The checks run on an event loop and a
// thread of their own, so a slow upstream never delays a client, and they see the upstream
// as a client would: connect, request, response, parsed by the proxy's own parser.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "netlab/apps/http_proxy/upstreams.h"
#include "netlab/io/event_loop.h"
#include "netlab/io/result.h"

namespace netlab {

class HealthChecker {
 public:
  struct Settings {
    std::string path;
    double intervalSec = 5;
    int64_t fails = 1, passes = 1;  // nginx's health_check defaults
  };
  struct Counts {
    std::atomic<uint64_t> checks{0}, failures{0};
  };

  /// Starts checking every upstream of `upstreams` (which, with `counts`, outlives this).
  static Result<std::unique_ptr<HealthChecker>> start(UpstreamSet& upstreams, Settings settings,
                                                      Counts& counts);
  /// Stops the checks in progress and the thread.
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

 private:
  class Probe;
  HealthChecker(UpstreamSet& upstreams, Settings settings, Counts& counts,
                std::unique_ptr<EventLoop> loop);
  void begin(size_t i);
  void finished(size_t i, bool passed);

  UpstreamSet& upstreams_;
  Settings settings_;
  Counts& counts_;
  std::unique_ptr<EventLoop> loop_;
  std::vector<std::unique_ptr<Probe>> probes_;  // one an upstream; loop thread only
  std::vector<int64_t> streak_;                 // > 0: passes in a row, < 0: failures in a row
  std::thread thread_;
};

}  // namespace netlab
