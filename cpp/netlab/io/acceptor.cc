#include "netlab/io/acceptor.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

namespace netlab {

SpareFd::SpareFd() : fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

void SpareFd::shedOne(int listenFd) {
  fd_.reset();
  Fd victim(::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC));
  victim.reset();
  fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

Result<Fd> acceptOne(int listenFd, SpareFd& spare) {
  for (;;) {
    int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return Fd(fd);
    switch (errno) {
      case EINTR:
      case ECONNABORTED:  // the peer gave up while queued: try the next one
        continue;
      case EMFILE:
      case ENFILE:
        spare.shedOne(listenFd);
        return sysError("accept (connection shed: out of file descriptors)");
      default:
        return sysError("accept");
    }
  }
}

Acceptor::Acceptor(EventLoop& loop, int listenFd, OnAccept onAccept, OnFailure onFailure)
    : loop_(loop),
      listenFd_(listenFd),
      onAccept_(std::move(onAccept)),
      onFailure_(std::move(onFailure)) {}

Acceptor::~Acceptor() {
  if (watching_) loop_.unwatch(listenFd_);
}

Status Acceptor::listen(bool exclusive) {
  Status s = loop_.watch(listenFd_, kReadable | (exclusive ? kExclusive : 0), this);
  watching_ = s.ok();
  return s;
}

// A bounded batch per wake-up, so a connect storm cannot starve established connections.
void Acceptor::onReady(uint32_t) {
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    Result<Fd> conn = acceptOne(listenFd_, spare_);
    if (conn.ok()) {
      onAccept_(std::move(conn.value()));
      continue;
    }
    int code = conn.error().code;
    if (code != EAGAIN && code != EWOULDBLOCK) onFailure_(conn.error());
    return;
  }
}

}  // namespace netlab
