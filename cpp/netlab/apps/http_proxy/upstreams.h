// The proxy's upstream servers as a balancer sees them, shared by every worker: weights,
// requests in flight (least-connections), passive health (nginx's max_fails and
// fail_timeout: an upstream that failed max_fails times within fail_timeout is skipped for
// fail_timeout, then tried again) and the active checks' verdict (health_check.h).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "netlab/io/result.h"

namespace netlab {

struct UpstreamAddress {
  std::string host;
  uint16_t port = 0;
  int64_t weight = 1;
  std::string name;  // "host:port"
};

/// "host:port [weight=N] host:port ...", separated by spaces or commas; a weight applies to
/// the upstream before it (nginx's `server host:port weight=N`).
Result<std::vector<UpstreamAddress>> parseUpstreams(std::string_view text);

enum class BalancePolicy : uint8_t { kRoundRobin, kLeastConn };

class UpstreamSet {
 public:
  struct Health {
    int64_t maxFails = 1;  // 0: never marked down
    int64_t failTimeoutNs = 10'000'000'000;
  };
  UpstreamSet(std::vector<UpstreamAddress> servers, BalancePolicy balance, Health health);

  size_t size() const { return servers_.size(); }
  const UpstreamAddress& address(size_t i) const { return servers_[i].address; }

  /// The next upstream for a request, skipping those in `tried` (indexed like the servers)
  /// and those marked down while any other remains; -1 once every one has been tried. Counts
  /// the request in flight on it until release().
  int pick(const std::vector<bool>& tried, int64_t nowNs);
  void release(size_t i);
  void failed(size_t i, int64_t nowNs);
  void succeeded(size_t i);
  /// Marks an upstream down, or up again, by active health check (beside passive health: down
  /// by either is down).
  void setChecked(size_t i, bool down);
  /// How many are marked down now.
  size_t down(int64_t nowNs) const;

 private:
  struct Server {
    UpstreamAddress address;
    int64_t currentWeight = 0;  // smooth weighted round-robin (nginx)
    int64_t inFlight = 0;
    int64_t fails = 0;
    int64_t firstFailNs = 0;
    int64_t downUntilNs = 0;
    bool checkedDown = false;
  };
  bool usable(const Server& s, size_t i, const std::vector<bool>& tried, int64_t nowNs,
              bool ignoreHealth) const;
  int pickRoundRobin(const std::vector<bool>& tried, int64_t nowNs, bool ignoreHealth);
  int pickLeastConn(const std::vector<bool>& tried, int64_t nowNs, bool ignoreHealth);

  mutable std::mutex mutex_;
  std::vector<Server> servers_;
  BalancePolicy balance_;
  Health health_;
  size_t rotate_ = 0;  // least-connections breaks ties in turn
};

}  // namespace netlab
