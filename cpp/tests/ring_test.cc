#include "netlab/load/ring.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

namespace netlab {
namespace {

// Random pushes and pops against std::deque, across the inline slots, growth and wrap-around.
TEST(Ring, BehavesAsADequeThroughGrowthAndWrapAround) {
  Ring<int> ring;
  std::deque<int> model;
  std::mt19937 rng(7);
  int next = 0;
  for (int step = 0; step < 100000; ++step) {
    bool push = model.empty() || (model.size() < 40 && rng() % 2 == 0);
    if (push) {
      ring.push_back(next);
      model.push_back(next);
      ++next;
      ASSERT_EQ(ring.back(), model.back());
    } else {
      ASSERT_EQ(ring.front(), model.front()) << "step " << step;
      ring.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(ring.size(), model.size());
    ASSERT_EQ(ring.empty(), model.empty());
    for (size_t i = 0; i < model.size(); ++i) ASSERT_EQ(ring[i], model[i]);
  }
  ring.clear();
  EXPECT_TRUE(ring.empty());
  ring.push_back(5);
  EXPECT_EQ(ring.front(), 5);
  EXPECT_EQ(ring.size(), 1u);
}

TEST(Ring, OneInFlightAtATimeCyclesThroughTheSlotsThenDeeperGrows) {
  Ring<long, 2> ring;
  for (long i = 0; i < 1000; ++i) {
    ring.push_back(i);
    ASSERT_EQ(ring.front(), i);
    ring.pop_front();
  }
  EXPECT_TRUE(ring.empty());
  // A pipeline of 3 needs more than the inline 2: the ring grows and keeps the order.
  ring.push_back(1);
  ring.push_back(2);
  ring.push_back(3);
  EXPECT_EQ(ring.front(), 1);
  EXPECT_EQ(ring.back(), 3);
  EXPECT_EQ(ring[1], 2);
}

}  // namespace
}  // namespace netlab
