// Token buckets by client address: the proxy's per-client request rate and every server's
// per-address connection rate.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace netlab {

/// A token bucket per client address, shared by every worker: `rate` requests a second with
/// bursts of `burst`. The table is bounded: past kMaxAddresses, buckets that have refilled
/// (those clients are within their rate and lose nothing) are dropped first.
class RateLimiter {
 public:
  static constexpr size_t kMaxAddresses = 65536;
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}
  bool enabled() const { return rate_ > 0; }
  /// True to admit; else `retryAfterSec` is when one token will be there again.
  bool admit(std::string_view address, int64_t nowNs, double& retryAfterSec);

 private:
  struct Bucket {
    double tokens;
    int64_t lastNs;
  };
  void sweep(int64_t nowNs);

  double rate_, burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace netlab
