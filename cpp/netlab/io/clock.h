#pragma once

#include <chrono>
#include <cstdint>

namespace netlab {

/// Monotonic nanoseconds: every deadline and latency in netlab is measured on this clock.
inline int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;

}  // namespace netlab
