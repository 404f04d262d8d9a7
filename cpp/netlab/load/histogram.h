// A log-linear latency histogram in the manner of HdrHistogram: values in nanoseconds, exact
// below 128 ns, then 128 linear sub-buckets per power of two, so any recorded value is known
// to within 1/128 (0.78%) of itself; percentiles report the bucket's midpoint (<= 0.4%).
// Range: 0 to 2^37 ns (137 s), which covers the 1 us to 100 s that latencies need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace netlab {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = 1u << kSubBits;  // 128
  static constexpr int kMaxExponent = 37;
  static constexpr uint64_t kMaxValue = (1ull << kMaxExponent) - 1;
  static constexpr size_t kBuckets = kSub + (kMaxExponent - kSubBits) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  /// Values above kMaxValue are clamped (and counted in clamped()). Inline: the load
  /// generator records every response, and a call per record was a tenth of its own work.
  void record(uint64_t valueNs, uint64_t count = 1) {
    if (count == 0) return;
    if (valueNs > kMaxValue) {
      valueNs = kMaxValue;
      clamped_ += count;
    }
    counts_[indexOf(valueNs)] += count;
    total_ += count;
    // Signed, as values fit in 37 bits: x86-64 converts a signed integer in one instruction.
    sum_ += static_cast<double>(static_cast<int64_t>(valueNs)) * static_cast<double>(count);
    if (valueNs < min_) min_ = valueNs;
    if (valueNs > max_) max_ = valueNs;
  }
  void merge(const Histogram& other);
  void clear();

  uint64_t count() const { return total_; }
  uint64_t min() const { return total_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return total_ ? sum_ / static_cast<double>(total_) : 0.0; }
  uint64_t clamped() const { return clamped_; }
  /// The value below which `percentile` percent of recordings fall (0 < percentile <= 100).
  uint64_t percentile(double percentile) const;

  /// HdrHistogram's percentile distribution: (percentile, value) at 0, then `ticksPerHalf`
  /// steps each time the distance to 100 halves (50, 75, 87.5, ...), down to the last
  /// recording, then 100: what an HDR latency plot draws, tail widened.
  std::vector<std::pair<double, uint64_t>> spectrum(int ticksPerHalf = 4) const;

  /// Non-empty buckets as (index, count): a compact copy for per-second timelines.
  std::vector<std::pair<uint32_t, uint64_t>> sparse() const;
  void addSparse(const std::vector<std::pair<uint32_t, uint64_t>>& buckets);

  static size_t indexOf(uint64_t valueNs) {
    if (valueNs < kSub) return static_cast<size_t>(valueNs);
    int exponent = 63 - __builtin_clzll(valueNs);  // >= kSubBits
    int shift = exponent - kSubBits;
    return kSub + static_cast<size_t>(exponent - kSubBits) * kSub + ((valueNs >> shift) - kSub);
  }
  static uint64_t lowestIn(size_t index);
  static uint64_t highestIn(size_t index);

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t min_ = ~0ull;
  uint64_t max_ = 0;
  double sum_ = 0;  // 53 bits are plenty for a mean of nanoseconds
  uint64_t clamped_ = 0;
};

}  // namespace netlab
