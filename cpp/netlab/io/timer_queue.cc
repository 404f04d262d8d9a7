#include "netlab/io/timer_queue.h"

namespace netlab {

TimerQueue::TimerId TimerQueue::add(int64_t deadlineNs, Callback cb) {
  TimerId id{deadlineNs, nextSeq_++};
  timers_.emplace(id, std::move(cb));
  return id;
}

bool TimerQueue::cancel(TimerId id) { return timers_.erase(id) > 0; }

void TimerQueue::clear() {
  std::map<TimerId, Callback> doomed;
  doomed.swap(timers_);
}

int64_t TimerQueue::nsUntilNext(int64_t nowNs) const {
  if (timers_.empty()) return -1;
  int64_t wait = timers_.begin()->first.first - nowNs;
  return wait > 0 ? wait : 0;
}

int TimerQueue::runDue(int64_t nowNs) {
  int ran = 0;
  // One at a time: a callback may add or cancel timers, which would invalidate iterators.
  while (!timers_.empty() && timers_.begin()->first.first <= nowNs) {
    auto node = timers_.extract(timers_.begin());
    node.mapped()();
    ++ran;
  }
  return ran;
}

}  // namespace netlab
