#include "netlab/models/loop_conn.h"

#include <cerrno>
#include <cstring>

#include "netlab/io/clock.h"
#include "netlab/io/socket.h"

namespace netlab {

LoopConn::LoopConn(LoopConnContext& ctx, Fd fd, uint64_t id, std::string address,
                   std::unique_ptr<Handler> handler)
    : ctx_(ctx),
      fd_(std::move(fd)),
      id_(id),
      address_(std::move(address)),
      peer_(peerName(fd_.get())),
      handler_(std::move(handler)) {}

LoopConn::~LoopConn() = default;

bool LoopConn::open() {
  interest_ = kReadable;
  if (!ctx_.loop.watch(fd_.get(), interest_, this).ok()) return false;
  Counters::bump(ctx_.counters.connectionsTotal);
  ctx_.live.fetch_add(1, std::memory_order_relaxed);
  if (ctx_.log.enabled()) ctx_.log.add("open #" + std::to_string(id_) + " " + peer_);
  lastActiveNs_ = nowNs();
  if (ctx_.idleTimeoutNs > 0) armIdleTimer(lastActiveNs_ + ctx_.idleTimeoutNs);
  inHandler_ = true;
  handler_->onOpen(*this);
  inHandler_ = false;
  flush();
  return true;
}

void LoopConn::onReady(uint32_t ready) {
  if (state_ != State::kClosed && (ready & kWritable) && (interest_ & kWritable)) flush();
  if (state_ != State::kClosed && (ready & kReadable) && (interest_ & kReadable)) handleRead();
}

// One read per wake-up: the loop is level-triggered, so a busy peer is simply served again
// on the next turn after every other ready connection has had its go.
void LoopConn::handleRead() {
  ssize_t n = input_.readFrom(fd_.get(), Buffer::kReadChunk);
  if (n > 0) {
    Counters::bump(ctx_.counters.bytesIn, n);
    touch();
    deliverInput();
  } else if (n == 0) {
    // The peer has finished sending; what we still owe it is written before we close
    // (RFC 862: echo until the client closes, and a half-closed client still reads).
    state_ = State::kDraining;
    flush();
  } else if (errno != EAGAIN && errno != EINTR) {
    onSocketError("read");
  }
}

void LoopConn::deliverInput() {
  turnMessages_ = 0;
  backlogged_ = false;
  inHandler_ = true;
  size_t messages = handler_->onData(*this, input_);
  inHandler_ = false;
  Counters::bump(ctx_.counters.messagesIn, messages);
  if (state_ == State::kClosed) return;
  if (input_.empty()) backlogged_ = false;
  // What a handler that was not stopped by its budget leaves is one partial message; a
  // backlog starts with complete ones, so no message is late while it waits.
  if (backlogged_) partialSinceNs_ = 0;
  if (state_ == State::kOpen && !backlogged_) {
    if (input_.readable() > ctx_.maxPendingInput) {
      closeNow("over " + std::to_string(ctx_.maxPendingInput) + " bytes of unconsumed input", true);
      return;
    }
    notePartial(messages);
  }
  if (!accountHeldInput()) return;
  flush();
  if (state_ == State::kOpen && backlogged_ && !readPaused_) continueNextTurn();
}

bool LoopConn::budgetLeft() {
  if (state_ != State::kOpen) return false;
  if (turnMessages_++ < kMaxMessagesPerTurn && output_.readable() < ctx_.highWater) return true;
  backlogged_ = true;
  return false;
}

// The rest of a backlog waits for the next turn, after every other ready connection.
void LoopConn::continueNextTurn() {
  if (continueQueued_) return;
  continueQueued_ = true;
  ctx_.loop.runNextTurn([self = shared_from_this()] {
    self->continueQueued_ = false;
    if (self->state_ == State::kOpen && self->backlogged_ && !self->readPaused_) {
      self->deliverInput();
    }
  });
}

// The server-wide bound on partial input: many connections each holding a large partial
// message must not add up to unbounded memory. The one whose holding grows past it goes.
bool LoopConn::accountHeldInput() {
  // A backlog is complete messages waiting their turn, already bounded (nothing more is
  // read meanwhile): only a partial message counts.
  int64_t held = backlogged_ ? 0 : static_cast<int64_t>(input_.readable());
  int64_t delta = held - heldInput_;
  if (delta == 0) return true;
  heldInput_ = held;
  int64_t total = ctx_.heldInput.fetch_add(delta, std::memory_order_relaxed) + delta;
  if (delta > 0 && total > ctx_.maxHeldInput) {
    closeNow("server input memory full: partial messages of all connections over " +
                 std::to_string(ctx_.maxHeldInput) + " bytes",
             true);
    return false;
  }
  return true;
}

// The message timeout runs from the first byte of a message to its last.
void LoopConn::notePartial(size_t messages) {
  if (ctx_.messageTimeoutNs <= 0) return;
  if (input_.empty()) {
    partialSinceNs_ = 0;
    return;
  }
  if (messages > 0 || partialSinceNs_ == 0) partialSinceNs_ = ctx_.loop.iterationNs();
  if (!messageTimerArmed_) armMessageTimer(partialSinceNs_ + ctx_.messageTimeoutNs);
}

void LoopConn::armMessageTimer(int64_t deadlineNs) {
  messageTimer_ = ctx_.loop.runAt(deadlineNs, [this] { onMessageTimer(); });
  messageTimerArmed_ = true;
}

void LoopConn::onMessageTimer() {
  messageTimerArmed_ = false;
  if (partialSinceNs_ == 0) return;
  int64_t deadline = partialSinceNs_ + ctx_.messageTimeoutNs;
  if (nowNs() < deadline) {
    armMessageTimer(deadline);
    return;
  }
  Counters::bump(ctx_.counters.timeouts);
  closeNow("message timeout: a message was still incomplete " +
               std::to_string(ctx_.messageTimeoutNs / kNsPerMs) + " ms after its first byte",
           false);
}

bool LoopConn::sendQueued(std::string_view data, size_t messages) {
  if (state_ == State::kClosed) return false;
  Counters::bump(ctx_.counters.messagesOut, messages);
  output_.append(data);
  if (ctx_.maxQueuedOutput > 0 && output_.readable() > ctx_.maxQueuedOutput) {
    // Only what the kernel will not take counts against the bound: write before judging.
    flush();
    if (state_ == State::kClosed) return false;
    if (output_.readable() > ctx_.maxQueuedOutput) {
      dropSlow(0);
      return false;
    }
  }
  if (!inHandler_) deferFlush();
  return true;
}

void LoopConn::deferFlush() {
  if (flushDeferred_) return;
  flushDeferred_ = true;
  // Safe with `this`: a closed connection stays alive until the iteration's graveyard is
  // cleared, which happens after deferred tasks run.
  ctx_.loop.defer([this] {
    flushDeferred_ = false;
    if (state_ != State::kClosed) flush();
  });
}

void LoopConn::dropSlow(size_t pendingBytes) {
  if (state_ == State::kClosed) return;
  Counters::bump(ctx_.counters.droppedSlow);
  closeNow("too slow: over " + std::to_string(ctx_.maxQueuedOutput) + " bytes queued (" +
               std::to_string(output_.readable() + pendingBytes) + ")",
           false);
}

std::shared_ptr<Outlet> LoopConn::outlet() {
  if (!outlet_)
    outlet_ = std::make_shared<LoopOutlet>(ctx_.loop, weak_from_this(), ctx_.maxQueuedOutput);
  return outlet_;
}

// Writes what the kernel takes in one call, then sets reading and writing interest from what
// is left: the single place where backpressure is decided.
void LoopConn::flush() {
  if (!output_.empty()) {
    ssize_t n = output_.writeTo(fd_.get());
    if (n > 0) {
      Counters::bump(ctx_.counters.bytesOut, n);
      touch();
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      onSocketError("write");
      return;
    }
  }
  if (output_.empty()) {
    output_.shrinkIfIdle();
    if (state_ == State::kDraining) {
      closeNow("closed", false);
      return;
    }
  }
  size_t queued = output_.readable();
  bool wasPaused = readPaused_;
  if (!readPaused_ && queued >= ctx_.highWater) readPaused_ = true;
  if (readPaused_ && queued <= ctx_.highWater / 2) readPaused_ = false;
  updateInterest();
  // The peer has read enough of its replies: what it asked for meanwhile comes next.
  if (wasPaused && !readPaused_ && backlogged_ && state_ == State::kOpen) continueNextTurn();
}

void LoopConn::updateInterest() {
  uint32_t want = 0;
  if (state_ == State::kOpen && !readPaused_ && !backlogged_) want |= kReadable;
  if (!output_.empty()) want |= kWritable;
  if (want == interest_) return;
  interest_ = want;
  Status s = ctx_.loop.rewatch(fd_.get(), want, this);
  if (!s.ok()) closeNow(s.error().message, true);
}

void LoopConn::closeAfterFlush() {
  if (state_ != State::kOpen) return;
  state_ = State::kDraining;
  input_.clear();
  if (!inHandler_) flush();
}

void LoopConn::fail(std::string_view reason) {
  if (state_ == State::kClosed) return;
  Counters::bump(ctx_.counters.errors);
  if (ctx_.log.enabled())
    ctx_.log.add("error #" + std::to_string(id_) + ": " + std::string(reason));
  closeAfterFlush();
}

// A peer that resets or vanishes ends its own connection; that is no error of the server's.
void LoopConn::onSocketError(const char* op) {
  bool peerGone = errno == ECONNRESET || errno == EPIPE;
  closeNow(std::string(op) + ": " + std::strerror(errno), !peerGone);
}

void LoopConn::closeNow(std::string_view why, bool isError) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (timerArmed_) ctx_.loop.cancel(idleTimer_);
  timerArmed_ = false;
  if (messageTimerArmed_) ctx_.loop.cancel(messageTimer_);
  messageTimerArmed_ = false;
  ctx_.heldInput.fetch_sub(heldInput_, std::memory_order_relaxed);
  heldInput_ = 0;
  ctx_.loop.unwatch(fd_.get());
  if (isError) Counters::bump(ctx_.counters.errors);
  ctx_.live.fetch_sub(1, std::memory_order_relaxed);
  if (ctx_.log.enabled()) {
    ctx_.log.add("close #" + std::to_string(id_) + " " + peer_ + ": " + std::string(why));
  }
  if (outlet_) outlet_->close();
  handler_->onClose(*this, why);
  fd_.reset();
  ctx_.onClosed(id_, address_);
}

// Only an idle timeout needs the time of the last activity, and the loop's iteration time is
// precise enough for it: no clock is read on the per-read and per-write path.
void LoopConn::touch() {
  if (ctx_.idleTimeoutNs > 0) lastActiveNs_ = ctx_.loop.iterationNs();
}

// Re-armed lazily: activity only stamps lastActiveNs_, and the timer, when it fires, moves
// itself to the new deadline. That keeps the hot path free of timer-queue updates.
void LoopConn::armIdleTimer(int64_t deadlineNs) {
  idleTimer_ = ctx_.loop.runAt(deadlineNs, [this] { onIdleTimer(); });
  timerArmed_ = true;
}

void LoopConn::onIdleTimer() {
  timerArmed_ = false;
  int64_t deadline = lastActiveNs_ + ctx_.idleTimeoutNs;
  if (nowNs() >= deadline) {
    Counters::bump(ctx_.counters.timeouts);
    closeNow("idle timeout", false);
  } else {
    armIdleTimer(deadline);
  }
}

}  // namespace netlab
