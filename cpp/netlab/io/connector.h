// Opens outbound TCP connections on an EventLoop: a non-blocking connect, its timeout, and a
// typed failure (refused, unreachable, timed out, out of fds or ports). What a server's
// handler uses to reach a backend, and what a client's reconnects pace themselves with.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "netlab/core/close_reason.h"
#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/io/socket.h"

namespace netlab {

class Connector final : public IoWatcher, public std::enable_shared_from_this<Connector> {
 public:
  /// The connected socket (non-blocking, TCP_NODELAY), or an invalid Fd and why not.
  using Done = std::function<void(Fd fd, CloseReason failure)>;

  /// Starts connecting; `done` runs once, on the loop thread, never inside this call.
  /// `what` names the target in failure texts ("connect to 127.0.0.1:9"; empty: none).
  static std::shared_ptr<Connector> start(EventLoop& loop, const Endpoint& endpoint,
                                          int64_t timeoutNs, std::string what, Done done);
  Connector(EventLoop& loop, std::string what, Done done);
  /// The owner keeps the connector while it is pending (the poller and a timer point at it);
  /// dropping it gives up, as cancel() does.
  ~Connector() override;
  /// Gives up without calling back.
  void cancel();
  bool pending() const { return pending_; }

  void onReady(uint32_t ready) override;

 private:
  void begin(const Endpoint& endpoint, int64_t timeoutNs);
  void finish(Fd fd, CloseReason failure);
  void failSoon(CloseReason failure);
  std::string prefix() const { return what_.empty() ? "" : what_ + ": "; }

  EventLoop& loop_;
  std::string what_;
  Done done_;
  Fd fd_;
  bool pending_ = true;
  bool watched_ = false;
  bool timerArmed_ = false;
  TimerQueue::TimerId timer_{};
};

/// Reconnect pacing: 1 ms after a first failure, then 20, 40, ... 640 ms and 1 s from then
/// on, so a refusing server is not hammered in a tight loop.
class Backoff {
 public:
  int64_t nextDelayNs();
  void reset() { failures_ = 0; }

 private:
  int failures_ = 0;
};

}  // namespace netlab
