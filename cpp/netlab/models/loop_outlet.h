// How other threads reach a LoopConn: messages collect in an inbox and one posted task per
// batch hands them to the connection's loop, so a busy room costs one wake-up per batch,
// not one per message.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "netlab/core/handler.h"
#include "netlab/io/event_loop.h"

namespace netlab {

class LoopConn;

/// A cross-thread inbox may reach this many times its bound while its thread drains it.
constexpr size_t kHardFactor = 16;
/// How long a sender whose message found a receiver's inbox behind pauses.
constexpr int64_t kPaceNs = 1'000'000;

/// Whether a delivery made on this thread since the last call found its receiver's thread
/// behind (its inbox past the bound); clears the flag.
bool takeReceiverBehind();

class LoopOutlet final : public Outlet, public std::enable_shared_from_this<LoopOutlet> {
 public:
  LoopOutlet(EventLoop& loop, std::weak_ptr<LoopConn> conn, size_t limit)
      : loop_(loop), conn_(std::move(conn)), limit_(limit) {}

  bool deliver(std::string_view data) override;
  bool post(std::function<void(Conn&)> task) override;
  /// The connection has closed: later deliveries fail without touching the loop.
  void close();

 private:
  void drain();

  EventLoop& loop_;
  std::weak_ptr<LoopConn> conn_;
  size_t limit_;  // 0: unbounded (the protocol asked for no slow-consumer bound)
  std::mutex mutex_;
  std::string inbox_;
  size_t inboxMessages_ = 0;
  bool posted_ = false;
  int64_t postedAtNs_ = 0;  // when the undrained inbox asked its loop to drain it
  bool overflow_ = false;
  std::atomic<bool> closed_{false};
};

}  // namespace netlab
