// One connection of the load generator: connects, sends requests on schedule, matches
// responses to them in order, and reconnects after a failure.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "netlab/io/buffer.h"
#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/load/load_result.h"

namespace netlab {

class LoadWorker;

class LoadClient final : public IoWatcher {
 public:
  /// `phaseNs`: this connection's offset in the open-loop schedule, so the connections'
  /// sends interleave evenly instead of arriving in bursts.
  LoadClient(LoadWorker& worker, int index, int64_t phaseNs);
  ~LoadClient() override;

  void connect();
  void onReady(uint32_t ready) override;
  /// Fails connects and requests that have waited past their timeouts.
  void checkTimeouts(int64_t nowNs);
  bool idle() const { return !fd_.valid() && !reconnectPending_; }
  size_t inflight() const { return inflight_.size(); }
  /// Requests sent and not yet answered.
  size_t unansweredCount() const;
  /// The send time of the oldest outstanding request (0 if none).
  int64_t oldestInflightNs() const;
  /// Sent at least one request and has not received a byte (streaming: a delivery) since.
  bool neverAnswered() const { return sentAny_ && !answered_; }
  void shutdown();

 private:
  enum class State { kDisconnected, kConnecting, kConnected };
  struct Request {
    uint64_t seq;
    int64_t intendedNs;
    int64_t sentNs;
  };

  bool reserveRequest();
  void onConnected();
  void trySend();
  void sendOne(int64_t intendedNs, int64_t nowNs);
  void flush();
  void handleRead();
  void readDeliveries(int64_t nowNs);
  void sendStamped(int64_t nowNs);
  void fail(LoadError kind, const std::string& why);
  void closeSocket();
  void scheduleReconnect();
  void armSendTimer(int64_t atNs);
  void updateInterest();
  void noteFirstSend();
  void markAnswered();

  LoadWorker& w_;
  int index_;  // across all workers: the chat scenario's room is index % rooms
  int64_t phaseNs_;
  State state_ = State::kDisconnected;
  Fd fd_;
  Buffer in_, out_;
  std::deque<Request> inflight_;
  size_t scanned_ = 0;
  int64_t connectStartNs_ = 0;
  int64_t nextIntendedNs_ = 0;  // open loop: the next request's place in the schedule
  int64_t thinkUntilNs_ = 0;    // closed loop: no request before this
  bool sendTimerArmed_ = false;
  TimerQueue::TimerId sendTimer_{};
  bool reconnectPending_ = false;
  TimerQueue::TimerId reconnectTimer_{};
  int failuresInARow_ = 0;
  // For "never answered": a starved connection must not hide behind the others' successes.
  bool sentAny_ = false;
  bool answered_ = false;
  uint32_t interest_ = 0;
};

}  // namespace netlab
