// Idle keep-alive connections to the upstreams, one pool per thread (a connection belongs to
// the loop that opened it): nginx's upstream `keepalive`. A connection is parked when its
// response ends and the upstream keeps it open, and taken by the next request to that
// upstream from any client on the same thread. At most `cap` idle per upstream (the oldest is
// closed to make room), each closed after `idleTimeout`; one the upstream closes while idle
// leaves quietly.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace netlab::apps::proxy {

class UpstreamSide;

class UpstreamPool {
 public:
  struct Settings {
    size_t upstreams = 1;
    size_t cap = 32;  // idle connections per upstream
    double idleTimeoutSec = 60;
    std::atomic<int64_t>* idleGauge = nullptr;  // the proxy's count of idle connections
  };
  explicit UpstreamPool(const Settings& settings);
  /// This thread's pool for the proxy whose serial number is `proxy`, shared by its handlers
  /// here and freed with the last of them.
  static std::shared_ptr<UpstreamPool> forThisThread(uint64_t proxy, const Settings& settings);

  /// An idle connection to upstream `i`, no longer idle; null when there is none.
  UpstreamSide* take(size_t i);
  /// Parks `side` (connected to upstream `i`); false when pooling is off (cap 0).
  bool put(size_t i, UpstreamSide& side);
  /// `side` closed while parked.
  void forget(size_t i, UpstreamSide& side);
  /// Closes every idle connection: the thread's last client has gone (threaded model).
  void closeAll();
  double idleTimeoutSec() const { return settings_.idleTimeoutSec; }

 private:
  void count(int64_t delta);

  Settings settings_;
  std::vector<std::deque<UpstreamSide*>> parked_;  // oldest first
};

}  // namespace netlab::apps::proxy
