// A non-blocking connection driven by an EventLoop (the epoll, poll and select models).
//
// Reading pauses while queued output is above the high-water mark and resumes below half of
// it, so a peer that does not read costs at most about high_water bytes of server memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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
  /// Bytes held in partial messages across the whole server, and its bound.
  std::atomic<int64_t>& heldInput;
  int64_t maxHeldInput;
  EventLog& log;
  size_t highWater;
  size_t maxPendingInput;
  size_t maxQueuedOutput;  // 0: backpressure only; else drop the connection past it
  int64_t idleTimeoutNs;
  int64_t messageTimeoutNs;
  /// Called once when the connection has closed; the owner drops its reference and gives
  /// back the connection's per-address slot (`address`, empty when it held none).
  std::function<void(uint64_t id, const std::string& address)> onClosed;
};

/// Messages one connection may have handled in one loop turn before the others get theirs.
constexpr size_t kMaxMessagesPerTurn = 256;

class LoopConn final : public Conn,
                       public IoWatcher,
                       public std::enable_shared_from_this<LoopConn> {
 public:
  LoopConn(LoopConnContext& ctx, Fd fd, uint64_t id, std::string address,
           std::unique_ptr<Handler> handler);
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
  bool budgetLeft() override;
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }

 private:
  enum class State { kOpen, kDraining, kClosed };

  void handleRead();
  void flush();
  void deferFlush();
  void onSocketError(const char* op);
  void deliverInput();
  bool accountHeldInput();
  void notePartial(size_t messages);
  void continueNextTurn();
  void updateInterest();
  void touch();
  void armIdleTimer(int64_t deadlineNs);
  void onIdleTimer();
  void armMessageTimer(int64_t deadlineNs);
  void onMessageTimer();

  LoopConnContext& ctx_;
  Fd fd_;
  uint64_t id_;
  std::string address_;  // the per-address slot held, if any
  std::string peer_;
  std::unique_ptr<Handler> handler_;
  Buffer input_;
  Buffer output_;
  State state_ = State::kOpen;
  bool readPaused_ = false;     // backpressure: output above the high-water mark
  bool inHandler_ = false;      // replies made inside onData go out in one write afterwards
  bool flushDeferred_ = false;  // messages from other connections: one write per iteration
  uint32_t interest_ = 0;
  int64_t lastActiveNs_ = 0;
  bool timerArmed_ = false;
  TimerQueue::TimerId idleTimer_{};
  // Fairness: messages handled this turn, and whether the handler stopped with complete
  // messages still in input_ (then nothing more is read until they are handled).
  size_t turnMessages_ = 0;
  bool backlogged_ = false;
  bool continueQueued_ = false;
  // The message timeout: when the partial message at the front of input_ began.
  int64_t partialSinceNs_ = 0;
  bool messageTimerArmed_ = false;
  TimerQueue::TimerId messageTimer_{};
  int64_t heldInput_ = 0;               // this connection's share of ctx_.heldInput
  std::shared_ptr<LoopOutlet> outlet_;  // made on first use: most protocols never need one
};

}  // namespace netlab
