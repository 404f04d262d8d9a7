#include "netlab/load/idle_connections.h"

#include <sys/socket.h>

#include <cerrno>

namespace netlab {

Result<std::unique_ptr<IdleConnections>> IdleConnections::create(const Endpoint& endpoint,
                                                                 int count,
                                                                 int64_t connectTimeoutNs) {
  auto loop = EventLoop::create("epoll");
  if (!loop.ok()) return loop.error();
  return std::make_unique<IdleConnections>(std::move(loop.value()), endpoint, count,
                                           connectTimeoutNs);
}

IdleConnections::IdleConnections(std::unique_ptr<EventLoop> loop, const Endpoint& endpoint,
                                 int count, int64_t connectTimeoutNs)
    : loop_(std::move(loop)),
      endpoint_(endpoint),
      count_(count),
      connectTimeoutNs_(connectTimeoutNs) {
  held_.reserve(static_cast<size_t>(count));
}

IdleConnections::~IdleConnections() {
  for (auto& connector : pending_) {
    if (connector) connector->cancel();
  }
}

void IdleConnections::startConnects() {
  while (started_ < count_ && started_ - finishedConnects_ < kMaxConnectsInFlight) {
    size_t slot = pending_.size();
    ++started_;
    pending_.push_back(Connector::start(*loop_, endpoint_, connectTimeoutNs_, "idle connection",
                                        [this, slot](Fd fd, CloseReason why) {
                                          ++finishedConnects_;
                                          pending_[slot].reset();
                                          if (fd.valid()) {
                                            ++counts_.opened;
                                            held_.push_back(std::move(fd));
                                          } else {
                                            ++counts_.failed;
                                            if (counts_.firstFailure.empty())
                                              counts_.firstFailure = why.text();
                                          }
                                          startConnects();
                                        }));
  }
}

bool IdleConnections::openFor(int64_t sliceNs) {
  if (closed_ || finishedConnects_ == count_) return true;  // finish() gave up on the rest
  startConnects();
  // A loop error (the poller's) cannot happen for an epoll fd we own; were it to, the
  // connects left pending would time out by the next slice anyway.
  (void)loop_->runFor(sliceNs);
  if (finishedConnects_ == count_) pending_.clear();
  return finishedConnects_ == count_;
}

// A server that closes an idle client may first write a reason ("server full"): read past it
// to the end of the stream. Bounded: an idle client is owed no more than a greeting.
bool IdleConnections::droppedByServer(int fd) {
  char scratch[4096];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return true;
    if (errno == EINTR) continue;
    return errno != EAGAIN && errno != EWOULDBLOCK;  // reset, or another error: gone
  }
  return false;  // still talking: not dropped
}

const IdleConnections::Counts& IdleConnections::finish() {
  if (closed_) return counts_;
  closed_ = true;
  for (auto& connector : pending_) {
    if (connector) connector->cancel();
  }
  pending_.clear();
  for (Fd& fd : held_) {
    if (droppedByServer(fd.get())) ++counts_.dropped;
  }
  held_.clear();
  return counts_;
}

}  // namespace netlab
