// One connection of the load generator: connects, sends requests on schedule, matches
// responses to them in order, and reconnects after a failure. The bytes move through a
// Stream and the connects through a Connector, the same code a server's connections use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "netlab/io/buffer.h"
#include "netlab/io/connector.h"
#include "netlab/io/event_loop.h"
#include "netlab/io/stream.h"
#include "netlab/load/load_result.h"
#include "netlab/load/ring.h"

namespace netlab {

class LoadWorker;

class LoadClient final : public StreamEvents {
 public:
  static constexpr size_t kMaxStampedBatch = 256 << 10;  // streaming bytes written per turn
  /// `phaseNs`: this connection's offset in the open-loop schedule, so the connections'
  /// sends interleave evenly instead of arriving in bursts.
  LoadClient(LoadWorker& worker, int index, int64_t phaseNs);
  ~LoadClient() override;

  void connect();
  /// Fails requests that have waited past `timeoutNs`, the response timeout (the Connector
  /// times connects).
  void checkTimeouts(int64_t nowNs, int64_t timeoutNs);
  bool idle() const { return !stream_ && !connector_ && !reconnectPending_; }
  size_t inflight() const { return inflight_.size(); }
  /// Requests sent and not yet answered.
  size_t unansweredCount() const;
  /// Bytes written to the stream and not yet to the socket.
  size_t queuedOutput() const;
  /// The send time of the oldest outstanding request (0 if none).
  int64_t oldestInflightNs() const;
  /// Sent at least one request and has not received a byte (streaming: a delivery) since.
  bool neverAnswered() const { return sentAny_ && !answered_; }
  void shutdown();

  void onStreamData(Stream&, Buffer& input) override;
  void onStreamEof(Stream&) override;
  void onStreamDrained(Stream&) override;
  void onStreamClose(Stream&, const CloseReason& reason) override;

 private:
  enum class State { kDisconnected, kConnecting, kConnected };
  struct Request {
    uint64_t seq;
    int64_t intendedNs;
    int64_t sentNs;
  };

  bool reserveRequest();
  void onConnected(Fd fd);
  void trySend();
  void trySend(int64_t nowNs);
  Buffer& batch();
  void flush();
  void readResponses(Buffer& in, int64_t nowNs);
  void readDeliveries(Buffer& in, int64_t nowNs);
  void sendStamped(int64_t nowNs);
  void fail(LoadError kind, const std::string& why);
  void closeSocket();
  void scheduleReconnect();
  void armSendTimer(int64_t atNs);
  void noteFirstSend();
  void markAnswered();

  // What every response and request touches, in as few cache lines as it fits (at a
  // thousand connections each line is a likely miss); connecting and reconnecting after.
  LoadWorker& w_;
  std::shared_ptr<Stream> stream_;
  State state_ = State::kDisconnected;
  Backoff backoff_;  // every answer resets it
  bool sendTimerArmed_ = false;
  bool reconnectPending_ = false;
  // For "never answered": a starved connection must not hide behind the others' successes.
  bool sentAny_ = false;
  bool answered_ = false;
  Buffer* batch_ = nullptr;  // where requests are being written (see batch())
  size_t batchStart_ = 0;
  size_t seenInput_ = 0;  // input bytes already counted
  size_t scanned_ = 0;
  int64_t nextIntendedNs_ = 0;  // open loop: the next request's place in the schedule
  int64_t thinkUntilNs_ = 0;    // closed loop: no request before this
  Ring<Request> inflight_;
  int index_;  // across all workers: the chat scenario's room is index % rooms
  int64_t phaseNs_;
  std::shared_ptr<Connector> connector_;
  Buffer discard_{0};  // stands in for a closed stream's output
  int64_t connectStartNs_ = 0;
  TimerQueue::TimerId sendTimer_{};
  TimerQueue::TimerId reconnectTimer_{};
};

}  // namespace netlab
