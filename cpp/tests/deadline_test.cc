// Deadline: moving it costs no timer until the timer behind it fires; then it re-arms for what
// is left, or expires once.
#include "netlab/core/deadline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

namespace netlab {
namespace {

// A Conn whose timers run only when the test says so.
class TimerConn final : public Conn {
 public:
  void send(std::string_view) override {}
  bool sendFile(int, int64_t, int64_t) override { return false; }
  size_t queuedOutput() const override { return 0; }
  void pauseReading() override {}
  void resumeReading() override {}
  void shutdownWrite() override {}
  void closeAfterFlush() override {}
  void close(CloseReason) override {}
  void fail(std::string_view) override {}
  TimerHandle runAfter(double seconds, std::function<void()> task) override {
    ++armed;
    lastDelay = seconds;
    timers[++next_] = std::move(task);
    return next_;
  }
  bool cancelTimer(TimerHandle timer) override {
    ++cancelled;
    return timers.erase(timer) > 0;
  }
  void connect(const std::string&, uint16_t, double, std::unique_ptr<Handler>) override {}
  uint64_t id() const override { return 1; }
  const std::string& peer() const override { return peer_; }
  std::shared_ptr<Outlet> outlet() override { return nullptr; }

  // Runs the timers armed so far, as the loop would once they are due.
  void fireAll() {
    auto due = std::move(timers);
    timers.clear();
    for (auto& entry : due) entry.second();
  }

  std::map<TimerHandle, std::function<void()>> timers;
  int armed = 0, cancelled = 0;
  double lastDelay = 0;

 private:
  TimerHandle next_ = 0;
  std::string peer_ = "127.0.0.1:1";
};

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

TEST(DeadlineTest, MovingItLaterArmsNoNewTimerAndItExpiresOnceAtTheLastDeadline) {
  TimerConn conn;
  int expired = 0;
  Deadline deadline([&] { ++expired; });
  deadline.set(conn, 0.02);
  for (int i = 0; i < 100; ++i) deadline.set(conn, 0.05);  // a request's every read
  EXPECT_EQ(conn.armed, 1);
  EXPECT_EQ(conn.cancelled, 0);
  sleepMs(25);
  conn.fireAll();  // the first timer, early for the deadline as moved: re-armed for the rest
  EXPECT_EQ(expired, 0);
  EXPECT_EQ(conn.armed, 2);
  EXPECT_GT(conn.lastDelay, 0.0);
  EXPECT_LE(conn.lastDelay, 0.05);
  EXPECT_TRUE(deadline.active());
  sleepMs(40);
  conn.fireAll();
  EXPECT_EQ(expired, 1);
  EXPECT_FALSE(deadline.active());
  EXPECT_TRUE(conn.timers.empty());
}

TEST(DeadlineTest, ClearedItNeverExpiresAndSetAgainItDoes) {
  TimerConn conn;
  int expired = 0;
  Deadline deadline([&] { ++expired; });
  deadline.set(conn, 0.001);
  deadline.clear();
  sleepMs(5);
  conn.fireAll();
  EXPECT_EQ(expired, 0);
  EXPECT_TRUE(conn.timers.empty()) << "a cleared deadline does not re-arm";
  deadline.set(conn, 0.001);
  sleepMs(5);
  conn.fireAll();
  EXPECT_EQ(expired, 1);
}

TEST(DeadlineTest, MovingItEarlierReplacesTheTimer) {
  TimerConn conn;
  int expired = 0;
  Deadline deadline([&] { ++expired; });
  deadline.set(conn, 60);
  deadline.set(conn, 0.001);
  EXPECT_EQ(conn.cancelled, 1);
  EXPECT_EQ(conn.timers.size(), 1u);
  EXPECT_LE(conn.lastDelay, 0.001);
  sleepMs(5);
  conn.fireAll();
  EXPECT_EQ(expired, 1);
}

}  // namespace
}  // namespace netlab
