#include "netlab/load/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace netlab {
namespace {

double relativeError(uint64_t reported, uint64_t exact) {
  return std::fabs(static_cast<double>(reported) - static_cast<double>(exact)) /
         static_cast<double>(exact);
}

TEST(Histogram, BucketsTileTheRangeWithoutGaps) {
  for (size_t i = 1; i < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::lowestIn(i), Histogram::highestIn(i - 1) + 1) << i;
  }
  EXPECT_EQ(Histogram::indexOf(Histogram::kMaxValue), Histogram::kBuckets - 1);
}

TEST(Histogram, EveryValueFallsInsideItsBucket) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() % Histogram::kMaxValue;
    size_t index = Histogram::indexOf(v);
    ASSERT_LE(Histogram::lowestIn(index), v);
    ASSERT_GE(Histogram::highestIn(index), v);
  }
}

// The promise: at most 1% relative error from 1 us to 100 s.
TEST(Histogram, PercentilesWithinOnePercentFromOneMicrosecondToHundredSeconds) {
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> logUniform(std::log(1e3), std::log(1e11));
  std::vector<uint64_t> values;
  Histogram h;
  for (int i = 0; i < 200000; ++i) {
    uint64_t v = static_cast<uint64_t>(std::exp(logUniform(rng)));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
    uint64_t exact = values[std::max<size_t>(rank, 1) - 1];
    EXPECT_LE(relativeError(h.percentile(p), exact), 0.01) << "p" << p;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
}

TEST(Histogram, SingleValuesAreReportedWithinOnePercent) {
  for (uint64_t v : {1'000ull, 1'234ull, 999'999ull, 12'345'678ull, 100'000'000'000ull}) {
    Histogram h;
    h.record(v);
    h.record(v);
    EXPECT_LE(relativeError(h.percentile(50), v), 0.01) << v;
    EXPECT_EQ(h.max(), v);
  }
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 128; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 63u);
  EXPECT_EQ(h.percentile(100), 127u);
}

TEST(Histogram, MeanIsExact) {
  Histogram h;
  h.record(1000);
  h.record(3000);
  h.record(5000, 2);
  EXPECT_DOUBLE_EQ(h.mean(), 3500.0);
}

TEST(Histogram, MergeAndSparseRoundTripKeepPercentiles) {
  Histogram a, b;
  for (uint64_t v = 1000; v < 2'000'000; v += 997) a.record(v);
  for (uint64_t v = 5000; v < 9'000'000; v += 1999) b.record(v);
  Histogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.count(), a.count() + b.count());
  Histogram rebuilt;
  rebuilt.addSparse(a.sparse());
  rebuilt.addSparse(b.sparse());
  for (double p : {50.0, 99.0, 99.9}) {
    EXPECT_LE(relativeError(rebuilt.percentile(p), merged.percentile(p)), 0.01);
  }
}

TEST(Histogram, HugeValuesAreClampedAndCounted) {
  Histogram h;
  h.record(Histogram::kMaxValue * 10);
  EXPECT_EQ(h.clamped(), 1u);
  EXPECT_EQ(h.max(), Histogram::kMaxValue);
}

}  // namespace
TEST(Histogram, SpectrumRunsFromMinToMaxWithTicksHalvingTowardsTheTail) {
  Histogram h;
  EXPECT_TRUE(h.spectrum().empty());
  for (uint64_t v = 1; v <= 1000; ++v) h.record(v * 1000);
  auto points = h.spectrum(2);
  ASSERT_GE(points.size(), 3u);
  EXPECT_EQ(points.front().first, 0.0);
  EXPECT_EQ(points.front().second, h.min());
  EXPECT_EQ(points.back().first, 100.0);
  EXPECT_EQ(points.back().second, h.max());
  EXPECT_NEAR(points[2].first, 50.0, 1e-9);  // two ticks per halving: 29.3, 50, 64.6, 75, ...
  EXPECT_NEAR(points[4].first, 75.0, 1e-9);
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_GT(points[i].first, points[i - 1].first);
    EXPECT_GE(points[i].second, points[i - 1].second);
  }
  // The last tick before 100 is within one recording of the end (1 in 1000).
  EXPECT_GT(points[points.size() - 2].first, 99.8);
  EXPECT_LE(points[points.size() - 2].first, 99.9);
}

}  // namespace netlab
