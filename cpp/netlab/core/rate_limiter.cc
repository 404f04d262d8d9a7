#include "netlab/core/rate_limiter.h"

#include <algorithm>
#include <iterator>

namespace netlab {

bool RateLimiter::admit(std::string_view address, int64_t nowNs, double& retryAfterSec) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxAddresses) sweep(nowNs);
    it = buckets_.emplace(std::string(address), Bucket{burst_, nowNs}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + static_cast<double>(nowNs - b.lastNs) * 1e-9 * rate_);
  b.lastNs = nowNs;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retryAfterSec = (1 - b.tokens) / rate_;
  return false;
}

// Full buckets first; if every client is in debt, the table is cleared rather than grown
// (those clients get a fresh burst: a bound on memory matters more than on them).
void RateLimiter::sweep(int64_t nowNs) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double tokens =
        it->second.tokens + static_cast<double>(nowNs - it->second.lastNs) * 1e-9 * rate_;
    it = tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() >= kMaxAddresses) buckets_.clear();
}

}  // namespace netlab
