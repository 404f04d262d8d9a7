#include "netlab/io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "netlab/io/clock.h"

namespace netlab {

// Drains the eventfd so a level-triggered poller does not report it again.
class EventLoop::Waker final : public IoWatcher {
 public:
  explicit Waker(int fd) : fd_(fd) {}
  void onReady(uint32_t) override {
    uint64_t count;
    while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
  }

 private:
  int fd_;
};

Result<std::unique_ptr<EventLoop>> EventLoop::create(std::string_view backend) {
  if (backend != "epoll" && backend != "poll" && backend != "select") {
    return Error{EINVAL, "unknown poller backend '" + std::string(backend) +
                             "'; valid: epoll, poll, select"};
  }
  auto poller = backend == "epoll"  ? makeEpollPoller()
                : backend == "poll" ? makePollPoller()
                                    : makeSelectPoller();
  if (!poller.ok()) return poller.error();
  Fd wakeFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wakeFd.valid()) return sysError("eventfd");
  auto loop = std::make_unique<EventLoop>(std::move(poller.value()), std::move(wakeFd));
  Status watched = loop->watch(loop->wakeFd_.get(), kReadable, loop->waker_.get());
  if (!watched.ok()) return watched.error();
  return loop;
}

EventLoop::EventLoop(std::unique_ptr<Poller> poller, Fd wakeFd)
    : poller_(std::move(poller)),
      wakeFd_(std::move(wakeFd)),
      waker_(std::make_unique<Waker>(wakeFd_.get())),
      owner_(std::this_thread::get_id()) {}

// A timer or a queued task may hold the last reference to a stream, whose destructor cancels
// its entries in these same queues and timers: they are emptied first, while all of them still
// exist, and what they held is destroyed after, finding them empty.
EventLoop::~EventLoop() {
  timers_.clear();
  std::vector<Task> tasks[4];
  tasks[0].swap(deferred_);
  tasks[1].swap(nextTurn_);
  tasks[2].swap(resumed_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks[3].swap(posted_);
  }
  std::vector<std::shared_ptr<void>> graveyard;
  graveyard.swap(graveyard_);
}

Status EventLoop::run() { return loop(0, false); }

Status EventLoop::runFor(int64_t ns) { return loop(nowNs() + std::max<int64_t>(ns, 0), true); }

// untilNs 0: no end but stop(). A run that times out has done at least one (non-blocking) turn.
Status EventLoop::loop(int64_t untilNs, bool returnOnSignal) {
  adoptThisThread();
  Status status;
  while (!stopping_.load(std::memory_order_acquire)) {
    ready_.clear();
    // Work queued before run() (a connection set up on this thread) must not wait for I/O.
    bool queued = !nextTurn_.empty() || !deferred_.empty();
    int64_t now = nowNs();
    int64_t timeout = queued ? 0 : timers_.nsUntilNext(now);
    if (untilNs > 0 && (timeout < 0 || timeout > untilNs - now)) {
      timeout = std::max<int64_t>(untilNs - now, 0);
    }
    if (farTimer_) timeout = farTimer_->cover(now, timeout);
    int n = poller_->poll(timeout, ready_);
    if (countWaits_) {
      countWaits_->fetch_add(1, std::memory_order_relaxed);
      if (n > 0) countReady_->fetch_add(ready_.size(), std::memory_order_relaxed);
    }
    if (n == -EINTR) {
      if (returnOnSignal) return status;
      n = 0;
    }
    if (n < 0) {
      errno = -n;
      status = sysError(std::string(poller_->name()) + " wait");
      break;
    }
    iterationNs_ = nowNs();
    resumed_.swap(nextTurn_);  // what this turn queues waits for the next one
    turnParity_ ^= 1;
    for (const ReadyEvent& event : ready_) event.watcher->onReady(event.ready);
    for (Task& queued : resumed_) {
      Task task = std::move(queued);  // a cancelled one is empty
      if (task) task();
    }
    resumed_.clear();  // both vectors keep their room: a bulk stream queues a read each turn
    timers_.runDue(nowNs());
    runPosted();
    runDeferred();
    graveyard_.clear();
    if (untilNs > 0 && iterationNs_ >= untilNs) return status;  // at least one turn ran
  }
  runPosted();  // tasks posted during the last iteration still run, on this thread
  runDeferred();
  graveyard_.clear();
  return status;
}

Status EventLoop::coverFarDeadlines() {
  if (farTimer_) return {};
  auto timer = FarTimer::create();
  if (!timer.ok()) return timer.error();
  Status watched = watch(timer.value()->fd(), kReadable, timer.value().get());
  if (!watched.ok()) return watched;
  farTimer_ = std::move(timer.value());
  return {};
}

namespace {
thread_local const EventLoop* tlsCurrentLoop = nullptr;
}  // namespace

void EventLoop::adoptThisThread() {
  owner_.store(std::this_thread::get_id(), std::memory_order_release);
  tlsCurrentLoop = this;
}

bool EventLoop::isCurrent(const EventLoop* loop) { return tlsCurrentLoop == loop; }

void EventLoop::assertInLoopThread(const char* what) const {
  if (inLoopThread()) return;
  std::fprintf(stderr, "netlab: %s used off its loop's thread\n", what);
  std::abort();
}

void EventLoop::stop() {
  stopping_.store(true, std::memory_order_release);
  wake();
}

bool EventLoop::post(Task task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (posted_.size() >= kMaxPostedTasks || stopping_.load()) return false;
    posted_.push_back(std::move(task));
    hasPosted_.store(true, std::memory_order_release);
  }
  wake();
  return true;
}

void EventLoop::wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  while (::write(wakeFd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

// Tasks deferred while these run are appended and run in the same pass, after them. The
// vector keeps its room across iterations.
void EventLoop::runDeferred() {
  for (size_t i = 0; i < deferred_.size(); ++i) {
    Task task = std::move(deferred_[i]);  // a task that defers another may move the vector
    if (task) task();
  }
  deferred_.clear();
}

// Most iterations have nothing posted: the flag spares them the lock.
void EventLoop::runPosted() {
  if (!hasPosted_.load(std::memory_order_acquire)) return;
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks.swap(posted_);
    hasPosted_.store(false, std::memory_order_relaxed);
  }
  for (Task& task : tasks) task();
}

}  // namespace netlab
