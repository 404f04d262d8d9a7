// Deadlines for one loop thread, ordered by time. Cancelling is O(log n) and safe from inside a
// callback, so an idle-timeout timer can be cancelled by the close it triggers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

namespace netlab {

class TimerQueue {
 public:
  using Callback = std::function<void()>;
  /// (deadline, sequence): unique, and orders timers with equal deadlines by creation.
  using TimerId = std::pair<int64_t, uint64_t>;

  TimerId add(int64_t deadlineNs, Callback cb);
  /// Returns whether the timer was still pending.
  bool cancel(TimerId id);
  /// Nanoseconds until the earliest deadline (0 if due); -1 when there is none.
  int64_t nsUntilNext(int64_t nowNs) const;
  /// Runs every timer due at nowNs; returns how many ran.
  int runDue(int64_t nowNs);
  size_t size() const { return timers_.size(); }
  /// Drops every timer. A callback's destructor may cancel others: it finds the queue empty.
  void clear();

 private:
  std::map<TimerId, Callback> timers_;
  uint64_t nextSeq_ = 1;
};

}  // namespace netlab
