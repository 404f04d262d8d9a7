#include "netlab/models/loop_conn.h"

#include <utility>

#include "netlab/io/clock.h"
#include "netlab/io/socket.h"

namespace netlab {

LoopConn::LoopConn(LoopConnContext& ctx, uint64_t id, std::string address,
                   std::unique_ptr<Handler> handler, bool outbound)
    : ctx_(ctx),
      handler_(std::move(handler)),
      outbound_(outbound),
      id_(id),
      address_(std::move(address)) {}

LoopConn::~LoopConn() = default;

bool LoopConn::open(Fd fd) {
  if (!outbound_) peer_ = peerName(fd.get());
  stream_.emplace(ctx_.loop, std::move(fd), ctx_.streamOptions, *this);
  if (!stream_->start().ok()) {
    stream_.reset();
    return false;
  }
  state_ = State::kOpen;
  if (!outbound_) {
    Counters::bump(ctx_.counters.connectionsTotal);
    ctx_.live.fetch_add(1, std::memory_order_relaxed);
  }
  if (ctx_.log.enabled()) {
    ctx_.log.add(std::string(outbound_ ? "connected #" : "open #") + std::to_string(id_) + " " +
                 peer_);
  }
  handler_->onOpen(*this);
  return true;
}

void LoopConn::connectTo(const Endpoint& endpoint, int64_t timeoutNs, std::string target) {
  peer_ = target;
  std::weak_ptr<LoopConn> weak = weak_from_this();
  connector_ = Connector::start(ctx_.loop, endpoint, timeoutNs, "connect to " + target,
                                [weak](Fd fd, CloseReason failure) {
                                  std::shared_ptr<LoopConn> self = weak.lock();
                                  if (!self || self->state_ != State::kConnecting) return;
                                  self->connector_.reset();
                                  if (!fd.valid()) {
                                    self->finish(failure);
                                  } else if (!self->open(std::move(fd))) {
                                    self->finish({CloseKind::kIoError, 0, "cannot watch fd"});
                                  }
                                });
}

void LoopConn::onStreamData(Stream&, Buffer&) { deliverInput(); }

void LoopConn::deliverInput() {
  Buffer& input = stream_->input();
  turnMessages_ = 0;
  backlogged_ = false;
  delivering_ = true;
  size_t messages = handler_->onData(*this, input);
  delivering_ = false;
  ctx_.counters.add(ctx_.counters.messagesIn, messages);
  if (state_ != State::kOpen) return;
  if (input.empty()) backlogged_ = false;
  // What a handler that was not stopped by its budget leaves is one partial message; a
  // backlog starts with complete ones, so no message is late while it waits. Nor is input
  // held by a handler that paused itself (an HTTP request pipelined behind a slow response):
  // the handler is the one keeping it waiting.
  if (backlogged_ || handlerPaused_) partialSinceNs_ = 0;
  if (!stream_->closing() && !backlogged_) {
    if (input.readable() > ctx_.maxPendingInput) {
      closeInputTooLarge();
      return;
    }
    if (!handlerPaused_) notePartial(messages);
  }
  if (!accountHeldInput()) return;
  updateReading();
  if (backlogged_ && !stream_->closing()) continueNextTurn();
}

bool LoopConn::budgetLeft() {
  if (state_ != State::kOpen || stream_->closing()) return false;
  if (takeReceiverBehind()) {
    pacing_ = true;
  } else if (turnMessages_++ < kMaxMessagesPerTurn &&
             stream_->queued() < static_cast<size_t>(ctx_.options.highWater)) {
    return true;
  }
  backlogged_ = true;
  return false;
}

// The rest of a backlog waits for the next turn, after every other ready connection; while
// the peer is not reading its replies (above the high-water mark) it waits for low water.
void LoopConn::continueNextTurn() {
  if (continueQueued_ || handlerPaused_ ||
      stream_->queued() >= static_cast<size_t>(ctx_.options.highWater))
    return;
  continueQueued_ = true;
  auto resume = [self = shared_from_this()] {
    self->continueQueued_ = false;
    if (self->state_ == State::kOpen && self->backlogged_ && !self->handlerPaused_ &&
        !self->stream_->closing()) {
      self->deliverInput();
    }
  };
  // A receiver on another thread is behind: give it the CPU for a moment (its inbox drains
  // meanwhile, and so does ours) rather than filling its inbox further.
  if (std::exchange(pacing_, false)) {
    ctx_.loop.runAt(nowNs() + kPaceNs, std::move(resume));
  } else {
    ctx_.loop.runNextTurn(std::move(resume));
  }
}

void LoopConn::updateReading() {
  if (state_ == State::kOpen) stream_->setReading(!handlerPaused_ && !backlogged_);
}

// The server-wide bound on partial input: many connections each holding a large partial
// message must not add up to unbounded memory. The one whose holding grows past it goes.
bool LoopConn::accountHeldInput() {
  // A backlog is complete messages waiting their turn, already bounded (nothing more is
  // read meanwhile): only a partial message counts.
  int64_t held = backlogged_ ? 0 : static_cast<int64_t>(stream_->input().readable());
  int64_t delta = held - heldInput_;
  if (delta == 0) return true;
  heldInput_ = held;
  int64_t total = ctx_.heldInput.fetch_add(delta, std::memory_order_relaxed) + delta;
  if (delta > 0 && total > ctx_.options.maxInputMemory) {
    closeInputMemoryFull();
    return false;
  }
  return true;
}

void LoopConn::closeInputTooLarge() {
  closeNow({CloseKind::kInputTooLarge, 0,
            "over " + std::to_string(ctx_.maxPendingInput) + " bytes of unconsumed input"});
}

void LoopConn::closeInputMemoryFull() {
  closeNow({CloseKind::kInputMemory, 0,
            "server input memory full: partial messages of all connections over " +
                std::to_string(ctx_.options.maxInputMemory) + " bytes"});
}

int64_t LoopConn::messageTimeoutNs() const {
  return static_cast<int64_t>(ctx_.options.messageTimeoutSec * kNsPerSec);
}

// The message timeout runs from the first byte of a message to its last.
void LoopConn::notePartial(size_t messages) {
  if (messageTimeoutNs() <= 0) return;
  if (stream_->input().empty()) {
    partialSinceNs_ = 0;
    return;
  }
  if (messages > 0 || partialSinceNs_ == 0) partialSinceNs_ = ctx_.loop.iterationNs();
  if (!messageTimerArmed_) armMessageTimer(partialSinceNs_ + messageTimeoutNs());
}

void LoopConn::armMessageTimer(int64_t deadlineNs) {
  messageTimer_ = ctx_.loop.runAt(deadlineNs, [this] { onMessageTimer(); });
  messageTimerArmed_ = true;
}

void LoopConn::onMessageTimer() {
  messageTimerArmed_ = false;
  if (partialSinceNs_ == 0) return;
  int64_t deadline = partialSinceNs_ + messageTimeoutNs();
  if (nowNs() < deadline) {
    armMessageTimer(deadline);
    return;
  }
  closeNow({CloseKind::kMessageTimeout, 0,
            "message timeout: a message was still incomplete " +
                std::to_string(messageTimeoutNs() / kNsPerMs) + " ms after its first byte"});
}

bool LoopConn::sendQueued(std::string_view data, size_t messages, bool relayed) {
  if (state_ != State::kOpen) return false;
  ctx_.counters.add(ctx_.counters.messagesOut, messages);
  size_t bound = ctx_.maxQueuedOutput;
  if (relayed && bound > 0 && !stream_->stalledFor(kStallNs)) bound *= kBehindFactor;
  return stream_->send(data, bound);
}

bool LoopConn::sendFile(int fd, int64_t offset, int64_t length) {
  return state_ == State::kOpen && stream_->sendFile(fd, offset, length);
}

void LoopConn::dropSlow(size_t pendingBytes) {
  if (state_ != State::kOpen) return;
  closeNow({CloseKind::kSlowConsumer, 0,
            "too slow: over " + std::to_string(ctx_.maxQueuedOutput) + " bytes queued (" +
                std::to_string(stream_->queued() + pendingBytes) + ")"});
}

std::shared_ptr<Outlet> LoopConn::outlet() {
  if (!outlet_)
    outlet_ = std::make_shared<LoopOutlet>(ctx_.loop, weak_from_this(), ctx_.maxQueuedOutput);
  return outlet_;
}

void LoopConn::pauseReading() {
  handlerPaused_ = true;
  updateReading();
}

void LoopConn::resumeReading() {
  if (!handlerPaused_) return;
  handlerPaused_ = false;
  // Input the handler left while it was paused (an HTTP request pipelined behind a slow
  // response) is offered again as a backlog is: no new bytes may ever come to prompt it.
  // Not from inside onData, whose caller goes on with the input anyway.
  if (state_ == State::kOpen && !delivering_ && !stream_->input().empty()) backlogged_ = true;
  updateReading();
  if (state_ == State::kOpen && backlogged_) continueNextTurn();
}

void LoopConn::shutdownWrite() {
  if (state_ == State::kOpen) stream_->shutdownWrite();
}

void LoopConn::closeAfterFlush() {
  if (state_ == State::kOpen) stream_->closeAfterFlush({CloseKind::kLocalClose, 0, "closed"});
}

void LoopConn::fail(std::string_view reason) {
  if (state_ != State::kOpen || stream_->closing()) return;
  Counters::bump(ctx_.counters.errors);
  stream_->closeAfterFlush({CloseKind::kProtocolError, 0, std::string(reason)});
}

Conn::TimerHandle LoopConn::runAfter(double seconds, std::function<void()> task) {
  if (state_ != State::kOpen) return 0;
  return stream_->runAfter(static_cast<int64_t>(seconds * kNsPerSec), std::move(task));
}

bool LoopConn::cancelTimer(TimerHandle timer) {
  return state_ == State::kOpen && stream_->cancelTimer(timer);
}

void LoopConn::connect(const std::string& host, uint16_t port, double timeoutSec,
                       std::unique_ptr<Handler> handler) {
  ctx_.connectOut(std::move(handler), host, port, timeoutSec);
}

void LoopConn::onStreamEof(Stream& stream) {
  if (!handler_->onEof(*this)) stream.closeAfterFlush({CloseKind::kPeerClosed, 0, "closed"});
}

void LoopConn::onStreamDrained(Stream&) { handler_->onDrained(*this); }

void LoopConn::onStreamHighWater(Stream&, size_t queued) { handler_->onHighWater(*this, queued); }

// The peer has read enough of its replies: what it asked for meanwhile comes next.
void LoopConn::onStreamLowWater(Stream&) {
  if (state_ == State::kOpen && backlogged_) continueNextTurn();
}

void LoopConn::closeNow(CloseReason reason) {
  if (state_ == State::kClosed) return;
  if (stream_ && stream_->isOpen()) {
    stream_->close(std::move(reason));  // comes back through onStreamClose
    return;
  }
  if (connector_) connector_->cancel();
  connector_.reset();
  finish(reason);
}

void LoopConn::onStreamClose(Stream&, const CloseReason& reason) { finish(reason); }

void LoopConn::finish(const CloseReason& reason) {
  bool wasOpen = state_ == State::kOpen;
  state_ = State::kClosed;
  if (messageTimerArmed_) ctx_.loop.cancel(messageTimer_);
  messageTimerArmed_ = false;
  ctx_.heldInput.fetch_sub(heldInput_, std::memory_order_relaxed);
  heldInput_ = 0;
  Counters::bump(ctx_.counters.closes[static_cast<size_t>(reason.kind)]);
  if (isServerError(reason.kind)) Counters::bump(ctx_.counters.errors);
  if (reason.kind == CloseKind::kSlowConsumer) Counters::bump(ctx_.counters.droppedSlow);
  if (reason.kind == CloseKind::kIdleTimeout || reason.kind == CloseKind::kMessageTimeout)
    Counters::bump(ctx_.counters.timeouts);
  if (wasOpen && !outbound_) ctx_.live.fetch_sub(1, std::memory_order_relaxed);
  if (ctx_.log.enabled()) {
    ctx_.log.add("close #" + std::to_string(id_) + " " + peer_ + ": " + reason.text());
  }
  if (outlet_) outlet_->close();
  handler_->onClose(*this, reason);
  ctx_.onClosed(id_, address_);
}

}  // namespace netlab
