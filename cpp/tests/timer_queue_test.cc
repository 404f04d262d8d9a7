#include "netlab/io/timer_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace netlab {
namespace {

TEST(TimerQueue, RunsDueTimersInDeadlineOrder) {
  TimerQueue q;
  std::vector<int> fired;
  q.add(300, [&] { fired.push_back(3); });
  q.add(100, [&] { fired.push_back(1); });
  q.add(200, [&] { fired.push_back(2); });
  EXPECT_EQ(q.runDue(250), 2);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.runDue(1000), 1);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueue, EqualDeadlinesRunInCreationOrder) {
  TimerQueue q;
  std::vector<int> fired;
  for (int i = 0; i < 5; ++i) q.add(10, [&fired, i] { fired.push_back(i); });
  q.runDue(10);
  EXPECT_EQ(fired, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(TimerQueue, CancelledTimersDoNotRun) {
  TimerQueue q;
  bool ran = false;
  auto id = q.add(5, [&] { ran = true; });
  EXPECT_TRUE(q.cancel(id));
  EXPECT_FALSE(q.cancel(id));
  q.runDue(100);
  EXPECT_FALSE(ran);
}

TEST(TimerQueue, CallbackMayAddAndCancelTimers) {
  TimerQueue q;
  std::vector<int> fired;
  TimerQueue::TimerId victim = q.add(50, [&] { fired.push_back(99); });
  q.add(10, [&] {
    fired.push_back(1);
    q.cancel(victim);
    q.add(20, [&] { fired.push_back(2); });  // due in this same pass
  });
  q.runDue(60);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueue, WaitIsExactToTheNanosecond) {
  TimerQueue q;
  EXPECT_EQ(q.nsUntilNext(0), -1);
  q.add(1'500'000, [] {});
  EXPECT_EQ(q.nsUntilNext(0), 1'500'000);
  EXPECT_EQ(q.nsUntilNext(1'499'999), 1);
  EXPECT_EQ(q.nsUntilNext(2'000'000), 0);
}

}  // namespace
}  // namespace netlab
