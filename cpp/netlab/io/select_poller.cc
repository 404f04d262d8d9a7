// The classic select(2) loop: the fd_sets are rebuilt for every wait and scanned up to the
// highest fd, which is exactly the cost the epoll comparison is meant to show.
#include <sys/select.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>

#include "netlab/io/poller.h"

namespace netlab {
namespace {

class SelectPoller final : public Poller {
 public:
  Status add(int fd, uint32_t interest, IoWatcher* w) override {
    if (!accepts(fd)) return Error{EMFILE, "select: fd " + std::to_string(fd) + " >= FD_SETSIZE"};
    slots_[fd] = {w, interest};
    maxFd_ = std::max(maxFd_, fd);
    return {};
  }
  Status modify(int fd, uint32_t interest, IoWatcher* w) override { return add(fd, interest, w); }
  void remove(int fd) override {
    if (!accepts(fd)) return;
    slots_[fd] = {};
    while (maxFd_ >= 0 && slots_[maxFd_].watcher == nullptr) --maxFd_;
  }

  int poll(int64_t timeoutNs, std::vector<ReadyEvent>& out) override {
    fd_set readSet, writeSet;
    FD_ZERO(&readSet);
    FD_ZERO(&writeSet);
    for (int fd = 0; fd <= maxFd_; ++fd) {
      if (slots_[fd].interest & kReadable) FD_SET(fd, &readSet);
      if (slots_[fd].interest & kWritable) FD_SET(fd, &writeSet);
    }
    // Round up to whole microseconds: never wake before the deadline.
    int64_t us = (timeoutNs + 999) / 1000;
    timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
    ++waits_;
    int n = ::select(maxFd_ + 1, &readSet, &writeSet, nullptr, timeoutNs < 0 ? nullptr : &tv);
    if (n < 0) return -errno;
    int found = 0;
    for (int fd = 0; fd <= maxFd_ && found < n; ++fd) {
      uint32_t ready =
          (FD_ISSET(fd, &readSet) ? kReadable : 0) | (FD_ISSET(fd, &writeSet) ? kWritable : 0);
      if (ready == 0) continue;
      found += __builtin_popcount(ready);
      out.push_back({slots_[fd].watcher, ready});
    }
    return static_cast<int>(out.size());
  }

  bool accepts(int fd) const override { return fd >= 0 && fd < FD_SETSIZE; }
  std::string_view name() const override { return "select"; }

 private:
  struct Slot {
    IoWatcher* watcher = nullptr;
    uint32_t interest = 0;
  };
  std::array<Slot, FD_SETSIZE> slots_{};
  int maxFd_ = -1;
};

}  // namespace

Result<std::unique_ptr<Poller>> makeSelectPoller() {
  return std::unique_ptr<Poller>(std::make_unique<SelectPoller>());
}

}  // namespace netlab
