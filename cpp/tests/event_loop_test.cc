#include "netlab/io/event_loop.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <string_view>
#include <thread>
#include <vector>

#include "netlab/io/clock.h"

namespace netlab {
namespace {

// "epoll+far": the epoll backend with its distant deadlines held by a timerfd, as a server's
// loops run; every test below runs both ways.
std::unique_ptr<EventLoop> makeLoop(std::string_view name) {
  bool far = name.size() > 4 && name.substr(name.size() - 4) == "+far";
  auto loop = EventLoop::create(far ? name.substr(0, name.size() - 4) : name);
  EXPECT_TRUE(loop.ok());
  if (far) EXPECT_TRUE(loop.value()->coverFarDeadlines().ok());
  return std::move(loop.value());
}

class EventLoopTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EventLoopTest, TimersFireAfterTheirDeadlineInOrder) {
  auto loop = makeLoop(GetParam());
  std::vector<int> fired;
  int64_t start = nowNs();
  int64_t firstAt = 0;
  loop->runAt(start + 30 * kNsPerMs, [&] {
    fired.push_back(2);
    loop->stop();
  });
  loop->runAt(start + 10 * kNsPerMs, [&] {
    fired.push_back(1);
    firstAt = nowNs();
  });
  ASSERT_TRUE(loop->run().ok());
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  EXPECT_GE(firstAt - start, 10 * kNsPerMs);
  EXPECT_GE(nowNs() - start, 30 * kNsPerMs);
}

TEST_P(EventLoopTest, CancelledTimerNeverFires) {
  auto loop = makeLoop(GetParam());
  bool ran = false;
  auto id = loop->runAt(nowNs() + 5 * kNsPerMs, [&] { ran = true; });
  loop->cancel(id);
  loop->runAt(nowNs() + 20 * kNsPerMs, [&] { loop->stop(); });
  ASSERT_TRUE(loop->run().ok());
  EXPECT_FALSE(ran);
}

TEST_P(EventLoopTest, PostFromAnotherThreadWakesTheLoop) {
  auto loop = makeLoop(GetParam());
  std::atomic<int> ran{0};
  std::thread::id ranOn;
  std::thread runner([&] { EXPECT_TRUE(loop->run().ok()); });
  std::thread poster([&] {
    for (int i = 0; i < 1000; ++i) loop->post([&] { ++ran; });
    loop->post([&] {
      ranOn = std::this_thread::get_id();
      loop->stop();
    });
  });
  std::thread::id runnerId = runner.get_id();
  poster.join();
  runner.join();
  EXPECT_EQ(ran.load(), 1000);
  EXPECT_EQ(ranOn, runnerId);
}

TEST_P(EventLoopTest, StopFromAnotherThreadEndsAnIdleLoop) {
  auto loop = makeLoop(GetParam());
  std::thread runner([&] { EXPECT_TRUE(loop->run().ok()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  loop->stop();
  runner.join();
  EXPECT_FALSE(loop->post([] {}));  // a stopped loop takes no more work
}

struct Recorder : IoWatcher {
  std::vector<uint32_t> seen;
  void onReady(uint32_t ready) override { seen.push_back(ready); }
};

TEST_P(EventLoopTest, WatchersSeeReadiness) {
  auto loop = makeLoop(GetParam());
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  Fd a(fds[0]), b(fds[1]);
  Recorder rec;
  ASSERT_TRUE(loop->watch(a.get(), kReadable, &rec).ok());
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  loop->runAt(nowNs() + 10 * kNsPerMs, [&] { loop->stop(); });
  ASSERT_TRUE(loop->run().ok());
  ASSERT_FALSE(rec.seen.empty());
  EXPECT_TRUE(rec.seen[0] & kReadable);
  loop->unwatch(a.get());
}

TEST_P(EventLoopTest, WaitsAndReadyDescriptorsAreCountedWhereAsked) {
  auto loop = makeLoop(GetParam());
  std::atomic<uint64_t> waits{0}, ready{0};
  loop->countWaitsInto(&waits, &ready);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  Fd a(fds[0]), b(fds[1]);
  Recorder rec;
  ASSERT_TRUE(loop->watch(a.get(), kReadable, &rec).ok());
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  ASSERT_TRUE(loop->runFor(0).ok());  // one turn: one wait, one ready descriptor
  EXPECT_EQ(waits.load(), 1u);
  EXPECT_EQ(ready.load(), 1u);
  EXPECT_EQ(waits.load(), loop->waits());
  loop->unwatch(a.get());
}

// What a turn queues for the next one runs after that turn's ready events, and the wait
// before it does not block (a long timer would otherwise delay it).
TEST_P(EventLoopTest, NextTurnTasksRunAfterTheNextWaitWithoutBlocking) {
  auto loop = makeLoop(GetParam());
  std::vector<int> order;
  int64_t start = nowNs();
  loop->runAt(start + 10 * kNsPerSec, [&] { loop->stop(); });  // a far-off timer
  loop->post([&] {
    order.push_back(1);
    loop->runNextTurn([&] {
      order.push_back(3);
      loop->runNextTurn([&] {
        order.push_back(4);
        loop->stop();
      });
    });
    loop->defer([&] { order.push_back(2); });  // this turn still finishes first
  });
  ASSERT_TRUE(loop->run().ok());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_LT(nowNs() - start, kNsPerSec);
}

// Deferred tasks run in the order they were deferred, those deferred while they run in the
// same pass after them; a cancelled one never runs, even when many deferred after it have
// moved the queue in memory since its ticket was given.
TEST_P(EventLoopTest, DeferredTasksRunInOrderAndACancelledOneNever) {
  auto loop = makeLoop(GetParam());
  std::vector<int> order;
  size_t late = 0;
  loop->post([&] {
    loop->defer([&] {
      order.push_back(1);
      for (int i = 0; i < 100; ++i) loop->defer([&] { order.push_back(3); });
      loop->cancelDeferred(late);
      loop->defer([&] {
        order.push_back(4);
        loop->stop();
      });
    });
    size_t early = loop->deferCancellable([&] { order.push_back(-1); });
    loop->defer([&] { order.push_back(2); });
    late = loop->deferCancellable([&] { order.push_back(-2); });
    loop->cancelDeferred(early);
  });
  ASSERT_TRUE(loop->run().ok());
  std::vector<int> expected{1, 2};
  expected.insert(expected.end(), 100, 3);
  expected.push_back(4);
  EXPECT_EQ(order, expected);
}

// A next-turn task cancelled in the turn that queued it never runs, nor does one cancelled
// during the turn that runs it (by a task before it, as a stream destroyed there would).
TEST_P(EventLoopTest, ACancelledNextTurnTaskNeverRuns) {
  auto loop = makeLoop(GetParam());
  std::vector<int> order;
  size_t late = 0;
  loop->post([&] {
    size_t early = loop->runNextTurnCancellable([&] { order.push_back(-1); });
    loop->runNextTurn([&] {
      order.push_back(1);
      loop->cancelNextTurn(late);
      loop->runNextTurnCancellable([&] {
        order.push_back(2);
        loop->stop();
      });
    });
    late = loop->runNextTurnCancellable([&] { order.push_back(-2); });
    loop->cancelNextTurn(early);
  });
  ASSERT_TRUE(loop->run().ok());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

// A loop the caller runs in slices (Python's main thread serving in serve()) returns after
// its slice with its timers intact, and carries on where it left off.
TEST_P(EventLoopTest, RunForReturnsAfterItsSliceAndCarriesOn) {
  auto loop = makeLoop(GetParam());
  int fired = 0;
  int64_t start = nowNs();
  loop->runAt(start + 80 * kNsPerMs, [&] { ++fired; });
  ASSERT_TRUE(loop->runFor(20 * kNsPerMs).ok());
  int64_t firstSlice = nowNs() - start;
  EXPECT_GE(firstSlice, 20 * kNsPerMs);
  EXPECT_LT(firstSlice, 75 * kNsPerMs);
  EXPECT_EQ(fired, 0);
  EXPECT_FALSE(loop->stopped());
  while (fired == 0 && nowNs() - start < kNsPerSec) ASSERT_TRUE(loop->runFor(20 * kNsPerMs).ok());
  EXPECT_EQ(fired, 1);
}

// A zero slice still does one turn without blocking, so polling with no timeout progresses.
TEST_P(EventLoopTest, RunForZeroDoesOneTurnWithoutBlocking) {
  auto loop = makeLoop(GetParam());
  bool ran = false;
  loop->post([&] { ran = true; });
  int64_t start = nowNs();
  ASSERT_TRUE(loop->runFor(0).ok());
  EXPECT_TRUE(ran);
  EXPECT_LT(nowNs() - start, 50 * kNsPerMs);
}

// A signal cuts the slice short, so the interpreter that runs the loop can handle Ctrl+C at
// once instead of at the end of the slice.
TEST_P(EventLoopTest, RunForReturnsWhenASignalInterruptsTheWait) {
  auto loop = makeLoop(GetParam());
  struct sigaction action {
  }, previous{};
  action.sa_handler = [](int) {};  // no SA_RESTART: the wait fails with EINTR
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  pthread_t self = ::pthread_self();
  std::thread signaller([self] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::pthread_kill(self, SIGUSR1);
  });
  int64_t start = nowNs();
  ASSERT_TRUE(loop->runFor(10 * kNsPerSec).ok());
  signaller.join();
  EXPECT_LT(nowNs() - start, 5 * kNsPerSec);
  EXPECT_FALSE(loop->stopped());
  // run() is not ended by a signal: only stop() ends it.
  std::thread signalAgain([self, &loop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    ::pthread_kill(self, SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    loop->stop();
  });
  int64_t runStart = nowNs();
  ASSERT_TRUE(loop->run().ok());
  signalAgain.join();
  EXPECT_GE(nowNs() - runStart, 55 * kNsPerMs);
  ::sigaction(SIGUSR1, &previous, nullptr);
}

// A timer nearer than the one the timerfd holds must re-arm it, or it would fire late. The
// loop first waits for the 2 s deadline; a task posted meanwhile adds the nearer one.
TEST_P(EventLoopTest, ANearerDistantTimerFiresOnTime) {
  auto loop = makeLoop(GetParam());
  loop->runAt(nowNs() + 2 * kNsPerSec, [&] { loop->stop(); });
  int64_t addedAt = 0;
  int64_t firedAt = 0;
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    loop->post([&] {
      addedAt = nowNs();
      loop->runAt(addedAt + 60 * kNsPerMs, [&] {
        firedAt = nowNs();
        loop->stop();
      });
    });
  });
  ASSERT_TRUE(loop->run().ok());
  poster.join();
  ASSERT_NE(firedAt, 0);
  EXPECT_GE(firedAt - addedAt, 60 * kNsPerMs);
  EXPECT_LT(firedAt - addedAt, 1500 * kNsPerMs);
}

// A cancelled deadline may still wake the loop once; the timer that replaces it fires on time
// (a re-arm lost after that early wake-up would leave it waiting for the stop at 1.2 s), and
// once nothing is due the loop sleeps: a timerfd left readable would be reported by every wait.
TEST_P(EventLoopTest, DistantTimersNeitherFireWhenCancelledNorLeaveTheLoopSpinning) {
  auto loop = makeLoop(GetParam());
  int64_t start = nowNs();
  bool ran = false;
  bool cancelled = false;
  int64_t firedAt = 0;
  auto id = loop->runAt(start + 300 * kNsPerMs, [&] { ran = true; });
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    loop->post([&] {
      cancelled = loop->cancel(id);
      loop->runAt(start + 400 * kNsPerMs, [&] { firedAt = nowNs(); });
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    loop->post([&] { loop->stop(); });
  });
  ASSERT_TRUE(loop->run().ok());
  poster.join();
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(ran);
  EXPECT_GE(firedAt - start, 400 * kNsPerMs);
  EXPECT_LT(firedAt - start, 1000 * kNsPerMs);
  EXPECT_LE(loop->waits(), 10u);
}

// serve() runs the loop in slices of 0.1 s, long enough for the timerfd to hold the slice's
// end: each slice still ends on time, and a timer beyond several slices fires in its own.
TEST_P(EventLoopTest, SlicesHeldByTheTimerfdEndOnTime) {
  auto loop = makeLoop(GetParam());
  int64_t start = nowNs();
  int64_t firedAt = 0;
  loop->runAt(start + 250 * kNsPerMs, [&] { firedAt = nowNs(); });
  int slices = 0;
  while (firedAt == 0 && nowNs() - start < 2 * kNsPerSec) {
    int64_t sliceStart = nowNs();
    ASSERT_TRUE(loop->runFor(60 * kNsPerMs).ok());
    int64_t slice = nowNs() - sliceStart;
    ++slices;
    EXPECT_GE(slice, 60 * kNsPerMs);
    EXPECT_LT(slice, 600 * kNsPerMs);
  }
  EXPECT_GE(firedAt - start, 250 * kNsPerMs);
  EXPECT_GE(slices, 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest,
                         ::testing::Values("epoll", "select", "poll", "epoll+far", "select+far",
                                           "poll+far"));

TEST(EventLoopCreateTest, AnUnknownBackendIsAnError) {
  auto loop = EventLoop::create("kqueue");
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.error().code, EINVAL);
  EXPECT_NE(loop.error().message.find("valid: epoll, poll, select"), std::string::npos);
}

}  // namespace
}  // namespace netlab
