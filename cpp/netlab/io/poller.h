// The readiness backend of an EventLoop: epoll, poll or select, chosen per loop (Redis ae
// picks one per build; netlab keeps all three so they can be compared in one process).
//
// What a backend provides: level-triggered readiness (a watcher that leaves data unread is
// reported again on the next wait) unless the watcher asks for edges (kEdge); add/modify/
// remove from the loop thread only, including from inside a dispatch; poll() fills
// ReadyEvents for the watchers registered when it was called, and the loop keeps a watcher
// alive until that batch is dispatched.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "netlab/io/result.h"

namespace netlab {

// Interest and readiness bits.
constexpr uint32_t kReadable = 1u << 0;
constexpr uint32_t kWritable = 1u << 1;
// Shared listening socket across several loops: wake one of them, not all (EPOLLEXCLUSIVE).
constexpr uint32_t kExclusive = 1u << 2;
// Readable interest reported once per arrival of data (EPOLLET), not on every wait while some
// stays unread: the kernel then skips re-checking every reported socket on the next wait. For
// a watcher that knows when it has read everything (a read shorter than asked, kReadAll) and
// reads again on its own when it stops early. Only with kReadable alone; backends without
// edges (poll, select) ignore it and stay level-triggered, which such a watcher handles too.
constexpr uint32_t kEdge = 1u << 3;
// In ready only, beside kReadable: the peer closed, the socket failed, or urgent data came
// (TCP's read stops short at the urgent mark), so a short read may not have seen everything:
// the watcher reads until the socket says EAGAIN, end of stream or an error.
constexpr uint32_t kReadAll = 1u << 4;

/// Something registered with a poller; it is told which interests became ready. Hang-ups and
/// errors are reported as readable|writable so the next read or write sees the real errno.
class IoWatcher {
 public:
  virtual ~IoWatcher() = default;
  virtual void onReady(uint32_t ready) = 0;
};

struct ReadyEvent {
  IoWatcher* watcher;
  uint32_t ready;
};

class Poller {
 public:
  virtual ~Poller() = default;
  virtual Status add(int fd, uint32_t interest, IoWatcher* watcher) = 0;
  virtual Status modify(int fd, uint32_t interest, IoWatcher* watcher) = 0;
  virtual void remove(int fd) = 0;
  /// Waits up to timeoutNs (-1: forever); fills `out`. Returns the count, or -errno (-EINTR when a
  /// signal cut the wait short: the loop decides whether that ends its run). Nanoseconds, not
  /// milliseconds: an open-loop load generator sends on timers, and rounding them up to whole
  /// milliseconds would be a measurement error.
  virtual int poll(int64_t timeoutNs, std::vector<ReadyEvent>& out) = 0;
  /// Whether fd can be watched at all (select cannot go past FD_SETSIZE).
  virtual bool accepts(int fd) const = 0;
  /// Whether kEdge is honoured (epoll); the others report level-triggered whatever is asked.
  virtual bool edges() const { return false; }
  virtual std::string_view name() const = 0;
  /// Counts of poll(2)-family calls, for syscall-per-request figures.
  uint64_t waits() const { return waits_.load(std::memory_order_relaxed); }

 protected:
  std::atomic<uint64_t> waits_{0};  // written by the loop thread, read by stats()
};

Result<std::unique_ptr<Poller>> makeEpollPoller();
Result<std::unique_ptr<Poller>> makeSelectPoller();
Result<std::unique_ptr<Poller>> makePollPoller();

}  // namespace netlab
