#include "netlab/io/connector.h"

#include <algorithm>
#include <cstring>

#include "netlab/io/clock.h"

namespace netlab {

std::shared_ptr<Connector> Connector::start(EventLoop& loop, const Endpoint& endpoint,
                                            int64_t timeoutNs, std::string what, Done done) {
  auto connector = std::make_shared<Connector>(loop, std::move(what), std::move(done));
  connector->begin(endpoint, timeoutNs);
  return connector;
}

Connector::Connector(EventLoop& loop, std::string what, Done done)
    : loop_(loop), what_(std::move(what)), done_(std::move(done)) {}

Connector::~Connector() { cancel(); }

void Connector::begin(const Endpoint& endpoint, int64_t timeoutNs) {
  bool connected = false;
  Result<Fd> fd = startConnect(endpoint, connected);
  if (!fd.ok()) {
    int err = fd.error().code;
    failSoon({closeKindFromErrno(err), err, prefix() + describeSocketError("connect", err)});
    return;
  }
  fd_ = std::move(fd.value());
  if (connected) {
    setNoDelay(fd_.get());
    loop_.defer([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->finish(std::move(self->fd_), {});
    });
    return;
  }
  Status watched = loop_.watch(fd_.get(), kWritable, this);
  if (!watched.ok()) {
    failSoon({closeKindFromErrno(watched.error().code), watched.error().code,
              prefix() + watched.error().message});
    return;
  }
  watched_ = true;
  if (timeoutNs > 0) {
    timerArmed_ = true;
    timer_ = loop_.runAt(nowNs() + timeoutNs, [this, timeoutNs] {
      timerArmed_ = false;
      finish(Fd(), {CloseKind::kConnectTimeout, ETIMEDOUT,
                    prefix() + "connect timed out after " + std::to_string(timeoutNs / kNsPerMs) +
                        " ms"});
    });
  }
}

// Failures found inside start() are reported on the next pass, like every other outcome, so
// a handler is never called back from inside its own connect(). The task holds the connector
// weakly: an owner that drops it before then has given up (and may be gone), as with cancel().
void Connector::failSoon(CloseReason failure) {
  fd_.reset();
  loop_.defer([weak = weak_from_this(), failure = std::move(failure)]() mutable {
    if (auto self = weak.lock()) self->finish(Fd(), std::move(failure));
  });
}

void Connector::onReady(uint32_t) {
  if (!pending_) return;
  int err = finishConnect(fd_.get());
  if (err != 0) {
    finish(Fd(), {closeKindFromErrno(err), err, prefix() + describeSocketError("connect", err)});
    return;
  }
  setNoDelay(fd_.get());
  finish(std::move(fd_), {});
}

void Connector::finish(Fd fd, CloseReason failure) {
  if (!pending_) return;
  pending_ = false;
  if (watched_) loop_.unwatch(fd_.valid() ? fd_.get() : fd.get());
  watched_ = false;
  if (timerArmed_) loop_.cancel(timer_);
  timerArmed_ = false;
  fd_.reset();
  loop_.destroyLater(shared_from_this());  // this batch may still hold our pointer
  Done done = std::move(done_);
  done(std::move(fd), std::move(failure));
}

void Connector::cancel() {
  if (!pending_) return;
  pending_ = false;
  if (watched_) loop_.unwatch(fd_.get());
  watched_ = false;
  if (timerArmed_) loop_.cancel(timer_);
  timerArmed_ = false;
  fd_.reset();
  done_ = nullptr;
}

int64_t Backoff::nextDelayNs() {
  int64_t delay = failures_ == 0
                      ? kNsPerMs
                      : std::min<int64_t>(kNsPerSec, (10 * kNsPerMs) << std::min(failures_, 7));
  ++failures_;
  return delay;
}

}  // namespace netlab
