// The poll(2) loop: no FD_SETSIZE cap, but like select the kernel walks every watched fd on
// each wait and so does the loop afterwards, so its cost grows with the connections, idle
// ones included. That O(n) is what epoll removes, and what select's 1,024 cap hides.
#include <poll.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <vector>

#include "netlab/io/poller.h"

namespace netlab {
namespace {

short toPollEvents(uint32_t interest) {
  return static_cast<short>(((interest & kReadable) ? POLLIN : 0) |
                            ((interest & kWritable) ? POLLOUT : 0));
}

class PollPoller final : public Poller {
 public:
  Status add(int fd, uint32_t interest, IoWatcher* w) override {
    if (fd < 0) return Error{EBADF, "poll: bad fd " + std::to_string(fd)};
    if (static_cast<size_t>(fd) >= indexOf_.size()) indexOf_.resize(fd + 1, kNone);
    if (indexOf_[fd] == kNone) {
      indexOf_[fd] = fds_.size();
      fds_.push_back({fd, 0, 0});
      watchers_.push_back(nullptr);
    }
    fds_[indexOf_[fd]].events = toPollEvents(interest);
    watchers_[indexOf_[fd]] = w;
    return {};
  }

  Status modify(int fd, uint32_t interest, IoWatcher* w) override {
    if (fd < 0 || static_cast<size_t>(fd) >= indexOf_.size() || indexOf_[fd] == kNone) {
      return Error{ENOENT, "poll: fd " + std::to_string(fd) + " is not watched"};
    }
    return add(fd, interest, w);
  }

  // The last entry takes the removed one's place, so removal is O(1) (muduo's PollPoller).
  void remove(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= indexOf_.size() || indexOf_[fd] == kNone) return;
    size_t at = indexOf_[fd];
    size_t last = fds_.size() - 1;
    if (at != last) {
      fds_[at] = fds_[last];
      watchers_[at] = watchers_[last];
      indexOf_[fds_[at].fd] = at;
    }
    fds_.pop_back();
    watchers_.pop_back();
    indexOf_[fd] = kNone;
  }

  int poll(int64_t timeoutNs, std::vector<ReadyEvent>& out) override {
    timespec ts{static_cast<time_t>(timeoutNs / 1'000'000'000),
                static_cast<long>(timeoutNs % 1'000'000'000)};
    ++waits_;
    int n = ::ppoll(fds_.data(), fds_.size(), timeoutNs < 0 ? nullptr : &ts, nullptr);
    if (n < 0) return -errno;
    for (size_t i = 0; i < fds_.size() && n > 0; ++i) {
      short revents = fds_[i].revents;
      if (revents == 0) continue;
      --n;
      uint32_t ready = 0;
      if (revents & (POLLIN | POLLPRI | POLLRDHUP)) ready |= kReadable;
      if (revents & POLLOUT) ready |= kWritable;
      if (revents & (POLLHUP | POLLERR | POLLNVAL)) ready |= kReadable | kWritable;
      out.push_back({watchers_[i], ready});
    }
    return static_cast<int>(out.size());
  }

  bool accepts(int fd) const override { return fd >= 0; }
  std::string_view name() const override { return "poll"; }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<pollfd> fds_;
  std::vector<IoWatcher*> watchers_;  // parallel to fds_
  std::vector<size_t> indexOf_;       // fd -> index in fds_, or kNone
};

}  // namespace

Result<std::unique_ptr<Poller>> makePollPoller() {
  return std::unique_ptr<Poller>(std::make_unique<PollPoller>());
}

}  // namespace netlab
