// One thread's reactor: a Poller, a TimerQueue, and an eventfd so other threads can hand it
// work or tell it to stop. Everything but post() and stop() must be called on the loop thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "netlab/io/buffer.h"
#include "netlab/io/far_timer.h"
#include "netlab/io/fd.h"
#include "netlab/io/poller.h"
#include "netlab/io/result.h"
#include "netlab/io/timer_queue.h"

// Loop-thread discipline (muduo's assertInLoopThread): objects a loop owns check that they are
// used on its thread in debug builds and in the C++ test build (NETLAB_CHECK_LOOP_THREAD),
// and abort with the reason if not. Release builds pay nothing.
#if !defined(NDEBUG) || defined(NETLAB_CHECK_LOOP_THREAD)
#define NETLAB_ASSERT_IN_LOOP(loop, what) (loop).assertInLoopThread(what)
#else
#define NETLAB_ASSERT_IN_LOOP(loop, what) ((void)0)
#endif

namespace netlab {

class EventLoop {
 public:
  using Task = std::function<void()>;
  static constexpr size_t kMaxPostedTasks = 1 << 20;

  /// Builds a loop on the named backend ("epoll", "poll" or "select"; anything else is an
  /// Error).
  static Result<std::unique_ptr<EventLoop>> create(std::string_view backend);
  EventLoop(std::unique_ptr<Poller> poller, Fd wakeFd);
  ~EventLoop();

  /// Runs until stop(); returns an Error only if the poller itself fails.
  Status run();
  /// Runs on the calling thread until stop(), for at most `ns`, or until a wait is
  /// interrupted by a signal: a loop that Python's main thread runs itself (one thread in the
  /// process, as Redis runs) goes back to the interpreter so Ctrl+C is handled at once.
  /// Called again, it carries on where it left off.
  Status runFor(int64_t ns);
  /// Whether stop() has been asked for (the loop runs no further iterations).
  bool stopped() const { return stopping_.load(std::memory_order_acquire); }
  /// Thread-safe; the loop finishes its current iteration and returns from run().
  void stop();
  /// Thread-safe: runs `task` on the loop thread soon. False when the queue is full (the bound
  /// keeps a stuck loop from growing memory without limit) or the loop has stopped.
  bool post(Task task);

  Status watch(int fd, uint32_t interest, IoWatcher* w) { return poller_->add(fd, interest, w); }
  Status rewatch(int fd, uint32_t interest, IoWatcher* w) {
    return poller_->modify(fd, interest, w);
  }
  void unwatch(int fd) { poller_->remove(fd); }
  bool canWatch(int fd) const { return poller_->accepts(fd); }
  /// Whether the backend reports edges when asked (poller.h's kEdge).
  bool hasEdges() const { return poller_->edges(); }

  TimerQueue::TimerId runAt(int64_t deadlineNs, TimerQueue::Callback cb) {
    return timers_.add(deadlineNs, std::move(cb));
  }
  bool cancel(TimerQueue::TimerId id) { return timers_.cancel(id); }

  /// Runs `task` on this (the loop) thread at the end of the current iteration, before the
  /// next wait: several sends to one connection in one iteration then cost one write
  /// (Redis's handleClientsWithPendingWrites).
  void defer(Task task) { deferred_.push_back(std::move(task)); }
  /// The same for an owner that may be destroyed before `task` runs: it keeps the ticket
  /// and, if it dies first, cancels with it. Without a weak reference to check, `task` can be
  /// small enough (a pointer) for std::function to hold without allocating: a chat message
  /// defers one flush per recipient. The ticket is good until the task has run.
  size_t deferCancellable(Task task) {
    deferred_.push_back(std::move(task));
    return deferred_.size() - 1;
  }
  void cancelDeferred(size_t ticket) {
    if (ticket < deferred_.size()) deferred_[ticket] = nullptr;  // none left while torn down
  }

  /// Runs `task` on this thread after the next wait (which then does not block): a
  /// connection that has had its share of this turn continues after every other ready one
  /// has had its go (libuv's bounded reads per wake-up).
  void runNextTurn(Task task) { nextTurn_.push_back(std::move(task)); }
  /// The same with a ticket for cancelNextTurn, as deferCancellable gives (a stream's next
  /// read in a bulk transfer). The ticket is good until the task has run.
  size_t runNextTurnCancellable(Task task) {
    nextTurn_.push_back(std::move(task));
    return (nextTurn_.size() - 1) << 1 | turnParity_;
  }
  /// A ticket given this turn names an entry of the next turn's queue; one given the turn
  /// before, an entry of the queue this turn is running.
  void cancelNextTurn(size_t ticket) {
    std::vector<Task>& queue = (ticket & 1) == turnParity_ ? nextTurn_ : resumed_;
    if ((ticket >> 1) < queue.size()) queue[ticket >> 1] = nullptr;
  }

  /// Keeps an object alive until the current batch of events is dispatched, because later
  /// events in the same batch may still point at it.
  void destroyLater(std::shared_ptr<void> object) { graveyard_.push_back(std::move(object)); }

  /// The loop's one read buffer (kReadChunk bytes), lent to a stream that holds no partial
  /// input for the length of one read and its callback: the bytes of a thousand connections
  /// then pass through one cache-warm place, as through a C server's static buffer, and only
  /// what a handler leaves unconsumed is copied into the stream's own buffer. Null while lent.
  Buffer* borrowReadBuffer() {
    return std::exchange(readBufferFree_, false) ? &readBuffer_ : nullptr;
  }
  void returnReadBuffer() {
    readBuffer_.clear();
    readBufferFree_ = true;
  }
  /// Its one write buffer, lent the same way to a stream with nothing queued for the replies
  /// its callback makes: written whole, they never touch the stream's own storage. It keeps
  /// at most kReadChunk bytes of room between loans.
  Buffer* borrowWriteBuffer() {
    return std::exchange(writeBufferFree_, false) ? &writeBuffer_ : nullptr;
  }
  void returnWriteBuffer() {
    writeBuffer_.clear();
    writeBuffer_.shrinkIfIdle(Buffer::kReadChunk);
    writeBufferFree_ = true;
  }

  /// The time the current iteration's wait returned: a clock read per iteration instead of
  /// one per read and write (Redis caches its time the same way). Good for idle timeouts,
  /// which need seconds, not nanoseconds.
  int64_t iterationNs() const { return iterationNs_; }

  /// Whether the caller is the loop's thread: the one running run(), or before that, the one
  /// that made it or called adoptThisThread().
  bool inLoopThread() const {
    return owner_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }
  /// Aborts, naming `what`, when called off the loop's thread.
  void assertInLoopThread(const char* what) const;
  /// For a loop made on one thread and run on another: its new thread claims it before
  /// setting up the connections it will run (run() also claims it).
  void adoptThisThread();
  /// Whether `loop` is the one this thread runs (or last adopted). Compares addresses only,
  /// so it is safe to ask about a loop another thread may be destroying.
  static bool isCurrent(const EventLoop* loop);
  std::string_view backend() const { return poller_->name(); }
  uint64_t waits() const { return poller_->waits(); }
  /// Holds deadlines at least FarTimer::kFarNs away in a timerfd, so waits need no timeout
  /// of their own (far_timer.h says what that saves). One descriptor more: for a server's
  /// loops, not for one loop per connection. Call before run(), from the thread that owns
  /// the loop. On failure the loop works as before, its waits keeping their own timeout.
  Status coverFarDeadlines();
  /// Also counts each wait, and the ready descriptors it returned, into these (a server's
  /// counters, read by stats() on other threads). Call before run().
  void countWaitsInto(std::atomic<uint64_t>* waits, std::atomic<uint64_t>* readyEvents) {
    countWaits_ = waits;
    countReady_ = readyEvents;
  }

 private:
  std::atomic<uint64_t>* countWaits_ = nullptr;
  std::atomic<uint64_t>* countReady_ = nullptr;
  class Waker;
  Status loop(int64_t untilNs, bool returnOnSignal);
  void wake();
  void runPosted();
  void runDeferred();

  std::unique_ptr<Poller> poller_;
  Fd wakeFd_;
  std::unique_ptr<Waker> waker_;
  std::unique_ptr<FarTimer> farTimer_;
  TimerQueue timers_;
  std::vector<ReadyEvent> ready_;
  std::vector<Task> deferred_;  // run by index and cleared after, so tickets stay valid
  std::vector<Task> nextTurn_;
  std::vector<Task> resumed_;  // last turn's nextTurn_, being run
  size_t turnParity_ = 0;      // flips as nextTurn_ becomes resumed_: which one a ticket names
  std::vector<std::shared_ptr<void>> graveyard_;
  Buffer readBuffer_{Buffer::kReadChunk};
  bool readBufferFree_ = true;
  Buffer writeBuffer_{Buffer::kInitialSize};
  bool writeBufferFree_ = true;
  std::atomic<bool> stopping_{false};
  int64_t iterationNs_ = 0;
  std::atomic<std::thread::id> owner_;
  std::mutex mutex_;
  std::vector<Task> posted_;
  std::atomic<bool> hasPosted_{false};
};

}  // namespace netlab
