// A non-blocking connection driven by an EventLoop (the epoll and select models).
//
// Reading pauses while queued output is above the high-water mark and resumes below half of
// it, so a peer that does not read costs at most about high_water bytes of server memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "netlab/core/counters.h"
#include "netlab/core/event_log.h"
#include "netlab/core/handler.h"
#include "netlab/io/buffer.h"
#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/models/loop_outlet.h"

namespace netlab {

/// What every connection of one loop shares.
struct LoopConnContext {
  EventLoop& loop;
  Counters& counters;
  std::atomic<int64_t>& live;
  EventLog& log;
  size_t highWater;
  size_t maxPendingInput;
  size_t maxQueuedOutput;  // 0: backpressure only; else drop the connection past it
  int64_t idleTimeoutNs;
  /// Called once when the connection has closed; the owner drops its reference.
  std::function<void(uint64_t id)> onClosed;
};

class LoopConn final : public Conn, public IoWatcher, public std::enable_shared_from_this<LoopConn> {
 public:
  LoopConn(LoopConnContext& ctx, Fd fd, uint64_t id, std::unique_ptr<Handler> handler);
  ~LoopConn() override;

  /// Registers with the loop and tells the handler; false if the loop refused the fd.
  bool open();
  /// Closes at once, dropping queued output (server shutdown, socket errors).
  void closeNow(std::string_view why, bool isError);

  void onReady(uint32_t ready) override;
  void send(std::string_view data) override { sendQueued(data, 1); }
  /// Queues `messages` messages' bytes; false if the connection is closed or was just
  /// dropped for passing maxQueuedOutput.
  bool sendQueued(std::string_view data, size_t messages);
  /// Drops a slow consumer: counted, and its handler is told why.
  void dropSlow(size_t pendingBytes);
  std::shared_ptr<Outlet> outlet() override;
  void closeAfterFlush() override;
  void fail(std::string_view reason) override;
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }

 private:
  enum class State { kOpen, kDraining, kClosed };

  void handleRead();
  void flush();
  void deferFlush();
  void onSocketError(const char* op);
  void deliverInput();
  void updateInterest();
  void touch();
  void armIdleTimer(int64_t deadlineNs);
  void onIdleTimer();

  LoopConnContext& ctx_;
  Fd fd_;
  uint64_t id_;
  std::string peer_;
  std::unique_ptr<Handler> handler_;
  Buffer input_;
  Buffer output_;
  State state_ = State::kOpen;
  bool readPaused_ = false;  // backpressure: output above the high-water mark
  bool inHandler_ = false;   // replies made inside onData go out in one write afterwards
  bool flushDeferred_ = false;  // messages from other connections: one write per iteration
  uint32_t interest_ = 0;
  int64_t lastActiveNs_ = 0;
  bool timerArmed_ = false;
  TimerQueue::TimerId idleTimer_{};
  std::shared_ptr<LoopOutlet> outlet_;  // made on first use: most protocols never need one
};

}  // namespace netlab
