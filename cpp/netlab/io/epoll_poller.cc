// Level-triggered epoll: a watcher that leaves bytes unread is simply told again next wait,
// which keeps per-connection code free of "drain until EAGAIN" loops. A watcher that asks
// for edges (kEdge: a Stream over a socket) gets EPOLLET with EPOLLRDHUP, as nginx registers
// its connections, and EPOLLPRI; it learns of a hang-up or urgent data as kReadAll.
#include <sys/epoll.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <memory>

#include "netlab/io/fd.h"
#include "netlab/io/poller.h"

namespace netlab {
namespace {

class EpollPoller final : public Poller {
 public:
  explicit EpollPoller(Fd epfd) : epfd_(std::move(epfd)), events_(kInitialEvents) {}

  Status add(int fd, uint32_t interest, IoWatcher* w) override {
    return control(EPOLL_CTL_ADD, fd, interest, w);
  }
  Status modify(int fd, uint32_t interest, IoWatcher* w) override {
    return control(EPOLL_CTL_MOD, fd, interest, w);
  }
  void remove(int fd) override { ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

  int poll(int64_t timeoutNs, std::vector<ReadyEvent>& out) override {
    ++waits_;
    int n = wait(timeoutNs);
    if (n < 0) return -errno;
    for (int i = 0; i < n; ++i) {
      out.push_back({static_cast<IoWatcher*>(events_[i].data.ptr), toReady(events_[i].events)});
    }
    // A full batch means more may be waiting: grow so one wait can take them all.
    if (static_cast<size_t>(n) == events_.size()) events_.resize(events_.size() * 2);
    return n;
  }

  bool accepts(int) const override { return true; }
  bool edges() const override { return true; }
  std::string_view name() const override { return "epoll"; }

 private:
  static constexpr size_t kInitialEvents = 256;

  // epoll_pwait2 (Linux 5.11) takes a timespec; older kernels get epoll_wait, rounded up to
  // whole milliseconds so a timer never fires early.
  int wait(int64_t timeoutNs) {
    int capacity = static_cast<int>(events_.size());
    if (havePwait2_) {
      timespec ts{static_cast<time_t>(timeoutNs / 1'000'000'000),
                  static_cast<long>(timeoutNs % 1'000'000'000)};
      int n = ::epoll_pwait2(epfd_.get(), events_.data(), capacity, timeoutNs < 0 ? nullptr : &ts,
                             nullptr);
      if (n >= 0 || errno != ENOSYS) return n;
      havePwait2_ = false;
    }
    int ms = timeoutNs < 0
                 ? -1
                 : static_cast<int>(std::min<int64_t>((timeoutNs + 999'999) / 1'000'000, INT_MAX));
    return ::epoll_wait(epfd_.get(), events_.data(), capacity, ms);
  }

  static uint32_t toReady(uint32_t ev) {
    uint32_t r = 0;
    if (ev & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) r |= kReadable;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) r |= kWritable;
    if (ev & (EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) r |= kReadAll;
    return r;
  }

  Status control(int op, int fd, uint32_t interest, IoWatcher* w) {
    epoll_event ev{};
    if (interest & kReadable) ev.events |= EPOLLIN;
    if (interest & kWritable) ev.events |= EPOLLOUT;
    if (interest & kExclusive) ev.events |= EPOLLEXCLUSIVE;
    if (interest & kEdge) ev.events |= EPOLLET | EPOLLRDHUP | EPOLLPRI;
    ev.data.ptr = w;
    if (::epoll_ctl(epfd_.get(), op, fd, &ev) < 0) return sysError("epoll_ctl");
    return {};
  }

  Fd epfd_;
  std::vector<epoll_event> events_;
  bool havePwait2_ = true;
};

}  // namespace

Result<std::unique_ptr<Poller>> makeEpollPoller() {
  Fd epfd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epfd.valid()) return sysError("epoll_create1");
  return std::unique_ptr<Poller>(std::make_unique<EpollPoller>(std::move(epfd)));
}

}  // namespace netlab
