// A server's connection under the loop models: a Stream and the Handler it feeds. The Stream
// moves the bytes; this adds what a server needs on top: the per-turn message budget, the
// message timeout, the server-wide bound on partial input, counters and the event log.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "netlab/core/counters.h"
#include "netlab/core/event_log.h"
#include "netlab/core/handler.h"
#include "netlab/io/connector.h"
#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/io/stream.h"
#include "netlab/models/loop_outlet.h"
#include "netlab/models/server_options.h"

namespace netlab {

/// What every connection of one loop shares.
struct LoopConnContext {
  EventLoop& loop;
  Counters& counters;
  std::atomic<int64_t>& live;
  /// Bytes held in partial messages across the whole server, and its bound.
  std::atomic<int64_t>& heldInput;
  /// The server's options, read where they are used (high_water, timeouts, input memory).
  const ServerOptions& options;
  EventLog& log;
  /// The protocol's own bounds.
  size_t maxPendingInput;
  size_t maxQueuedOutput;  // 0: backpressure only; else drop the connection past it
  /// Called once when a connection has closed; the owner drops its reference and gives back
  /// the connection's per-address slot (`address`, empty when it held none).
  std::function<void(uint64_t id, const std::string& address)> onClosed;
  /// Opens an outbound connection on this loop, served by `handler`.
  std::function<void(std::unique_ptr<Handler> handler, const std::string& host, uint16_t port,
                     double timeoutSec)>
      connectOut;
  /// The loop serves one client and ends with it (the threaded model).
  bool threadPerClient = false;
  /// What every connection's stream is given: the server's bounds and this loop's counters.
  StreamOptions streamOptions = {};
};

/// Messages one connection may have handled in one loop turn before the others get theirs.
constexpr size_t kMaxMessagesPerTurn = 256;
/// Slow consumers reached from other threads (see sendQueued).
constexpr int64_t kStallNs = 500'000'000;
constexpr size_t kBehindFactor = 4;

class LoopConn final : public Conn,
                       public StreamEvents,
                       public std::enable_shared_from_this<LoopConn> {
 public:
  /// `outbound`: opened by a handler's connect(), not accepted (no client slot, not live).
  LoopConn(LoopConnContext& ctx, uint64_t id, std::string address, std::unique_ptr<Handler> handler,
           bool outbound = false);
  ~LoopConn() override;

  /// Starts serving a connected socket; false if the loop refused the fd (nothing was told).
  bool open(Fd fd);
  /// Outbound: connects, then open(); a failure reaches the handler's onClose alone.
  void connectTo(const Endpoint& endpoint, int64_t timeoutNs, std::string target);
  /// Closes at once, dropping queued output (server shutdown, socket errors).
  void closeNow(CloseReason reason);
  /// Queues `messages` messages' bytes; false if the connection is closed or was just
  /// dropped for passing maxQueuedOutput. Messages from another thread (`relayed`) are held
  /// to the bound only once nothing has been written for kStallNs, else to kBehindFactor
  /// times it: a member whose thread is merely descheduled is behind, not stalled.
  bool sendQueued(std::string_view data, size_t messages, bool relayed = false);
  /// Drops a slow consumer: counted, and its handler is told why.
  void dropSlow(size_t pendingBytes);
  bool isOpen() const { return state_ == State::kOpen; }

  // Conn
  void send(std::string_view data) override { sendQueued(data, 1); }
  bool sendFile(int fd, int64_t offset, int64_t length) override;
  size_t queuedOutput() const override { return stream_ ? stream_->queued() : 0; }
  void pauseReading() override;
  void resumeReading() override;
  void shutdownWrite() override;
  void closeAfterFlush() override;
  void close(CloseReason reason) override { closeNow(std::move(reason)); }
  void fail(std::string_view reason) override;
  bool budgetLeft() override;
  TimerHandle runAfter(double seconds, std::function<void()> task) override;
  bool cancelTimer(TimerHandle timer) override;
  void connect(const std::string& host, uint16_t port, double timeoutSec,
               std::unique_ptr<Handler> handler) override;
  bool threadPerClient() const override { return ctx_.threadPerClient; }
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }
  std::shared_ptr<Outlet> outlet() override;

  // StreamEvents
  void onStreamData(Stream&, Buffer& input) override;
  void onStreamEof(Stream&) override;
  void onStreamDrained(Stream&) override;
  void onStreamHighWater(Stream&, size_t queued) override;
  void onStreamLowWater(Stream&) override;
  void onStreamClose(Stream&, const CloseReason& reason) override;

 private:
  enum class State { kConnecting, kOpen, kClosed };

  void deliverInput();
  bool accountHeldInput();
  // Out of line, so the hot functions that reach them keep a small frame (stream.h).
  [[gnu::cold, gnu::noinline]] void closeInputTooLarge();
  [[gnu::cold, gnu::noinline]] void closeInputMemoryFull();
  int64_t messageTimeoutNs() const;
  void notePartial(size_t messages);
  void continueNextTurn();
  void updateReading();
  void armMessageTimer(int64_t deadlineNs);
  void onMessageTimer();
  void finish(const CloseReason& reason);

  // What every request touches first, next to the Stream's own first lines (stream.h).
  LoopConnContext& ctx_;
  std::unique_ptr<Handler> handler_;
  State state_ = State::kConnecting;
  bool outbound_;
  bool handlerPaused_ = false;  // the handler called pauseReading()
  // Fairness: messages handled this turn, and whether the handler stopped with complete
  // messages still in the input (then nothing more is read until they are handled).
  bool backlogged_ = false;
  bool delivering_ = false;  // inside handler_->onData
  bool continueQueued_ = false;
  bool pacing_ = false;  // a receiver on another thread is behind: continue after kPaceNs
  bool messageTimerArmed_ = false;
  size_t turnMessages_ = 0;
  int64_t heldInput_ = 0;  // this connection's share of ctx_.heldInput
  // The message timeout: when the partial message at the front of the input began.
  int64_t partialSinceNs_ = 0;
  std::optional<Stream> stream_;
  TimerQueue::TimerId messageTimer_{};
  uint64_t id_;
  std::string address_;  // the per-address slot held, if any
  std::string peer_;
  std::shared_ptr<Connector> connector_;  // outbound, while connecting
  std::shared_ptr<LoopOutlet> outlet_;    // made on first use: most protocols never need one
};

}  // namespace netlab
