#include "netlab/load/histogram.h"

#include <algorithm>
#include <cmath>

namespace netlab {

uint64_t Histogram::lowestIn(size_t index) {
  if (index < kSub) return index;
  size_t octave = (index - kSub) / kSub;
  uint64_t sub = (index - kSub) % kSub;
  return (kSub + sub) << octave;
}

uint64_t Histogram::highestIn(size_t index) {
  if (index < kSub) return index;
  size_t octave = (index - kSub) / kSub;
  return lowestIn(index) + (1ull << octave) - 1;
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  clamped_ += other.clamped_;
}

void Histogram::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  sum_ = 0;
  min_ = ~0ull;
  max_ = 0;
  clamped_ = 0;
}

uint64_t Histogram::percentile(double p) const {
  if (total_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      uint64_t mid = lowestIn(i) + (highestIn(i) - lowestIn(i)) / 2;
      return std::clamp(mid, min(), max_);  // never outside what was actually seen
    }
  }
  return max_;
}

std::vector<std::pair<uint32_t, uint64_t>> Histogram::sparse() const {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (counts_[i]) out.emplace_back(static_cast<uint32_t>(i), counts_[i]);
  }
  return out;
}

void Histogram::addSparse(const std::vector<std::pair<uint32_t, uint64_t>>& buckets) {
  for (const auto& [index, count] : buckets) {
    uint64_t mid = lowestIn(index) + (highestIn(index) - lowestIn(index)) / 2;
    record(mid, count);
  }
}

std::vector<std::pair<double, uint64_t>> Histogram::spectrum(int ticksPerHalf) const {
  std::vector<std::pair<double, uint64_t>> points;
  if (total_ == 0) return points;
  points.emplace_back(0.0, min());
  // Past 1 - 1/total nothing new can be seen: every further tick would be the maximum.
  double last = 100.0 * (1.0 - 1.0 / static_cast<double>(total_));
  for (int k = 1;; ++k) {
    double p = 100.0 * (1.0 - std::pow(0.5, static_cast<double>(k) / ticksPerHalf));
    if (p > last || k > 64 * ticksPerHalf) break;
    points.emplace_back(p, percentile(p));
  }
  points.emplace_back(100.0, max());
  return points;
}

}  // namespace netlab
