#include <gtest/gtest.h>

#include <string>

#include "netlab/apps/http_proxy/upstreams.h"

namespace netlab {
namespace {

std::vector<UpstreamAddress> parsed(const std::string& text) {
  auto list = parseUpstreams(text);
  EXPECT_TRUE(list.ok()) << (list.ok() ? "" : list.error().message);
  return list.ok() ? list.value() : std::vector<UpstreamAddress>{};
}

std::string sequence(UpstreamSet& set, int n, int64_t now = 0) {
  std::string out;
  std::vector<bool> none(set.size(), false);
  for (int k = 0; k < n; ++k) {
    int i = set.pick(none, now);
    out += static_cast<char>('a' + i);
    set.release(static_cast<size_t>(i));
  }
  return out;
}

TEST(UpstreamSetTest, ParsesAddressesAndWeights) {
  auto list = parsed("127.0.0.1:8001 weight=5, localhost:8002,127.0.0.1:8003");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].name, "127.0.0.1:8001");
  EXPECT_EQ(list[0].weight, 5);
  EXPECT_EQ(list[1].host, "localhost");
  EXPECT_EQ(list[1].weight, 1);
  EXPECT_EQ(list[2].port, 8003);
}

TEST(UpstreamSetTest, RejectsMisplacedOrBadWeights) {
  EXPECT_FALSE(parseUpstreams("weight=2 127.0.0.1:8001").ok());
  EXPECT_FALSE(parseUpstreams("127.0.0.1:8001 weight=0").ok());
  EXPECT_FALSE(parseUpstreams("127.0.0.1:8001 weight=x").ok());
  EXPECT_FALSE(parseUpstreams("127.0.0.1:8001 weight=1001").ok());
  EXPECT_FALSE(parseUpstreams("  , ").ok());
  EXPECT_FALSE(parseUpstreams("127.0.0.1").ok());
}

// nginx's smooth weighted round-robin spreads the heavy upstream out.
TEST(UpstreamSetTest, SmoothWeightedRoundRobin) {
  UpstreamSet set(parsed("h:1 weight=5 h:2 h:3"), BalancePolicy::kRoundRobin, {});
  EXPECT_EQ(sequence(set, 7), "aabacaa");
  EXPECT_EQ(sequence(set, 7), "aabacaa");
  UpstreamSet even(parsed("h:1 h:2 h:3"), BalancePolicy::kRoundRobin, {});
  EXPECT_EQ(sequence(even, 6), "abcabc");
}

TEST(UpstreamSetTest, LeastConnectionsGoesToTheLeastBusyPerWeight) {
  UpstreamSet set(parsed("h:1 h:2 weight=2"), BalancePolicy::kLeastConn, {});
  std::vector<bool> none(2, false);
  // Busy: a holds one, b holds two (of weight 2): a tie per weight, broken in turn.
  EXPECT_EQ(set.pick(none, 0), 0);
  EXPECT_EQ(set.pick(none, 0), 1);
  EXPECT_EQ(set.pick(none, 0), 1);  // b: 1 in flight for weight 2 beats a's 1 for weight 1
  int next = set.pick(none, 0);
  set.release(static_cast<size_t>(next));
  set.release(0);
  EXPECT_EQ(set.pick(none, 0), 0);  // a is idle now
}

TEST(UpstreamSetTest, AFailedUpstreamIsSkippedForFailTimeoutThenTriedAgain) {
  UpstreamSet set(parsed("h:1 h:2"), BalancePolicy::kRoundRobin, {1, 1000});
  set.failed(0, 100);
  EXPECT_EQ(set.down(100), 1u);
  EXPECT_EQ(sequence(set, 4, 500), "bbbb");
  EXPECT_EQ(set.down(1100), 0u);
  EXPECT_NE(sequence(set, 4, 1100).find('a'), std::string::npos);
}

TEST(UpstreamSetTest, MaxFailsCountsWithinTheWindow) {
  UpstreamSet set(parsed("h:1 h:2"), BalancePolicy::kRoundRobin, {3, 1000});
  set.failed(0, 0);
  set.failed(0, 10);
  EXPECT_EQ(set.down(20), 0u);
  set.failed(0, 2000);  // the window started again: 1 of 3
  set.failed(0, 2010);
  EXPECT_EQ(set.down(2020), 0u);
  set.failed(0, 2020);
  EXPECT_EQ(set.down(2030), 1u);
  set.succeeded(1);
}

TEST(UpstreamSetTest, WhenAllAreDownOneIsTriedAnywayAndTriedOnesAreNot) {
  UpstreamSet set(parsed("h:1 h:2"), BalancePolicy::kRoundRobin, {1, 1000});
  set.failed(0, 0);
  set.failed(1, 0);
  std::vector<bool> tried{false, false};
  int first = set.pick(tried, 10);
  ASSERT_GE(first, 0);
  tried[static_cast<size_t>(first)] = true;
  int second = set.pick(tried, 10);
  EXPECT_EQ(second, 1 - first);
  tried[static_cast<size_t>(second)] = true;
  EXPECT_EQ(set.pick(tried, 10), -1);
}

TEST(UpstreamSetTest, MaxFailsZeroNeverMarksDown) {
  UpstreamSet set(parsed("h:1 h:2"), BalancePolicy::kRoundRobin, {0, 1000});
  for (int k = 0; k < 10; ++k) set.failed(0, k);
  EXPECT_EQ(set.down(10), 0u);
}

TEST(UpstreamSetTest, AnActiveCheckMarksDownUntilItPassesWhateverPassiveHealthSays) {
  UpstreamSet set(parsed("h:1 h:2"), BalancePolicy::kRoundRobin, {1, 1000});
  set.setChecked(1, true);
  EXPECT_EQ(set.down(0), 1u);
  EXPECT_EQ(sequence(set, 4, 5000), "aaaa");  // no cool-down ends it: only a passed check
  set.failed(1, 5000);                        // down by both counts once
  EXPECT_EQ(set.down(5000), 1u);
  set.setChecked(1, false);
  EXPECT_EQ(set.down(7000), 0u);
  EXPECT_EQ(sequence(set, 4, 7000), "abab");
}

}  // namespace
}  // namespace netlab
