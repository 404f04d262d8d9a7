#include "netlab/io/acceptor.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

#include "netlab/io/clock.h"

namespace netlab {

SpareFd::SpareFd() : fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

SpareFd::Shed SpareFd::shedOne(int listenFd) {
  if (!fd_.valid()) fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // taken back late
  if (!fd_.valid()) return Shed::kNoSpare;
  fd_.reset();
  Fd victim(::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC));
  int err = errno;
  bool shed = victim.valid();
  victim.reset();
  fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (shed) return Shed::kShed;
  // Linux reports EMFILE before it looks at the queue: with an fd free, EAGAIN means nothing
  // was pending after all. Anything else (the freed fd taken by another thread) is no spare.
  return err == EAGAIN || err == EWOULDBLOCK ? Shed::kNothingPending : Shed::kNoSpare;
}

Result<Fd> acceptOne(int listenFd, SpareFd& spare, bool& shed, std::atomic<uint64_t>* calls) {
  shed = false;
  auto count = [calls] {
    if (calls) calls->fetch_add(1, std::memory_order_relaxed);
  };
  std::lock_guard<std::mutex> lock(spare.mutex());
  for (;;) {
    count();
    int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return Fd(fd);
    switch (errno) {
      case EINTR:
      case ECONNABORTED:  // the peer gave up while queued: try the next one
        continue;
      case EMFILE:
      case ENFILE: {
        int err = errno;
        SpareFd::Shed result = spare.shedOne(listenFd);
        if (result != SpareFd::Shed::kNoSpare) count();  // shedding accepted once more
        if (result == SpareFd::Shed::kNothingPending) return Error{EAGAIN, "accept: none pending"};
        shed = result == SpareFd::Shed::kShed;
        return Error{err, shed ? "accept: out of file descriptors; a connection was shed"
                               : "accept: out of file descriptors and no spare to shed with; "
                                 "accepting pauses"};
      }
      default:
        return sysError("accept");
    }
  }
}

Acceptor::Acceptor(EventLoop& loop, int listenFd, SpareFd& spare, OnAccept onAccept,
                   OnFailure onFailure, std::function<void()> onShed)
    : loop_(loop),
      listenFd_(listenFd),
      spare_(spare),
      onAccept_(std::move(onAccept)),
      onFailure_(std::move(onFailure)),
      onShed_(std::move(onShed)) {}

Acceptor::~Acceptor() {
  if (watching_) loop_.unwatch(listenFd_);
}

Status Acceptor::listen(bool exclusive) {
  exclusive_ = exclusive;
  Status s = loop_.watch(listenFd_, kReadable | (exclusive ? kExclusive : 0), this);
  watching_ = s.ok();
  return s;
}

// A bounded batch per wake-up, so a connect storm cannot starve established connections.
void Acceptor::onReady(uint32_t) {
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    bool shed = false;
    Result<Fd> conn = acceptOne(listenFd_, spare_, shed, calls_);
    if (conn.ok()) {
      onAccept_(std::move(conn.value()));
      continue;
    }
    if (shed) {
      onShed_();
      continue;
    }
    int code = conn.error().code;
    if (code == EMFILE || code == ENFILE) {
      pause();
      return;
    }
    if (code != EAGAIN && code != EWOULDBLOCK) onFailure_(conn.error());
    return;
  }
}

// Nothing could be shed: stop watching the socket for a moment rather than spin on it.
void Acceptor::pause() {
  if (!watching_) return;
  loop_.unwatch(listenFd_);
  watching_ = false;
  resumeLater();
}

void Acceptor::resumeLater() {
  loop_.runAt(nowNs() + kAcceptPauseNs, [this] {
    Status s = listen(exclusive_);
    if (!s.ok()) {  // cannot watch the socket again yet: say so, and try again later
      onFailure_(s.error());
      resumeLater();
    }
  });
}

}  // namespace netlab
