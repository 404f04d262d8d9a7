#include "netlab/io/stream.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cassert>
#include <cerrno>
#include <csignal>
#include <mutex>

#include "netlab/io/clock.h"
#include "netlab/io/owned_counter.h"
#include "netlab/io/socket.h"

namespace netlab {
namespace {

void bump(std::atomic<uint64_t>* counter, size_t n, bool owned) {
  if (counter) addCount(*counter, n, owned);
}

}  // namespace

void StreamEvents::onStreamEof(Stream& stream) {
  stream.closeAfterFlush({CloseKind::kPeerClosed, 0, "closed"});
}

Stream::Stream(EventLoop& loop, Fd socket, const StreamOptions& options, StreamEvents& events)
    : loop_(loop),
      transport_(&socket_),
      output_(&out_),
      events_(events),
      options_(&options),
      socket_(std::move(socket)) {
  edges_ = loop.hasEdges();
}

Stream::Stream(EventLoop& loop, std::unique_ptr<Transport> transport, const StreamOptions& options,
               StreamEvents& events)
    : loop_(loop),
      transport_(transport.get()),
      output_(&out_),
      events_(events),
      options_(&options),
      socket_(Fd()),
      ownedTransport_(std::move(transport)) {
  edges_ = loop.hasEdges() && transport_->shortReadDrains();
}

const StreamOptions& Stream::defaultOptions() {
  static const StreamOptions defaults;
  return defaults;
}

Stream::~Stream() {
  if (flushDeferred_) loop_.cancelDeferred(flushTicket_);
  if (readScheduled_) loop_.cancelNextTurn(readTicket_);
  if (state_ == State::kClosed) return;
  for (auto& entry : timers_) loop_.cancel(entry.second);
  if (idleArmed_) loop_.cancel(idleTimer_);
  loop_.unwatch(transport_->fd());
  transport_->close();
}

void Stream::assertInLoopThread() const { NETLAB_ASSERT_IN_LOOP(loop_, "a Stream"); }

Status Stream::start() {
  assertInLoopThread();
  interest_ = edges_ ? kReadable | kEdge : kReadable;
  Status watched = loop_.watch(transport_->fd(), interest_, this);
  if (!watched.ok()) {
    interest_ = 0;
    return watched;
  }
  lastActiveNs_ = nowNs();
  if (options_->idleTimeoutNs > 0) armIdleTimer(lastActiveNs_ + options_->idleTimeoutNs);
  return {};
}

void Stream::onReady(uint32_t ready) {
  if (state_ == State::kClosed) return;
  if (ready & kReadAll) readAll_ = true;
  if (ready & ~interest_ & (kReadable | kWritable)) {
    // Nothing asked for is only ever a hang-up or an error (poller.h): act on it now, or a
    // level-triggered poller reports it again on every wait while reading is paused.
    if (!(ready & interest_)) onUnrequested();
    if (state_ == State::kClosed) return;
  }
  uint32_t want = wantedInterest();
  if (ready & interest_ & ~want & kReadable) {
    setInterest(want);  // reading was paused lazily (updateInterest): now stop the reports
    if (state_ == State::kClosed) return;
  }
  if ((ready & kWritable) && (want & kWritable)) {
    flush();
    if (state_ == State::kClosed) return;
    want = wantedInterest();
  }
  if ((ready & kReadable) && (want & kReadable)) {
    handleRead();
  } else if ((ready & kReadable) && (interest_ & kEdge)) {
    readMore_ = true;  // an edge not acted on (reading paused meanwhile) still owes a read
  }
}

void Stream::onUnrequested() {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(transport_->fd(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
    close(CloseReason::fromErrno("socket", err));
    return;
  }
  char byte;
  ssize_t n = ::recv(transport_->fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0 && !readEof_) handleEof();
}

// One read per wake-up: a busy peer is served again on the next turn, after every other ready
// stream has had its go. A stream that holds no partial input reads into the loop's one read
// buffer, swapped in for the length of the read and its callback: the Buffer its owner sees
// (and may keep a pointer to) is the stream's own either way, and only what the owner leaves
// unconsumed is copied back into the stream's own storage.
void Stream::handleRead() {
  const StreamOptions& options = *options_;
  bump(options.reads, 1, options.countersOwned);
  bool lingering = lingering_;
  Buffer* spare = input_.empty() ? loop_.borrowReadBuffer() : nullptr;
  if (spare) input_.swap(*spare);
  ssize_t n = input_.readFrom(*transport_, options.readChunk);
  int err = errno;
  // A TCP socket's read returns less than asked only once it is empty (nginx's ready = 0 on a
  // short read), or at an urgent mark, or with a hang-up still to be read (kReadAll).
  size_t full = std::min(options.readChunk, Buffer::kReadChunk);
  readMore_ = (n > 0 && (readAll_ || static_cast<size_t>(n) >= full)) || (n < 0 && err == EINTR);
  // Emptied: a later hang-up or urgent mark comes with an edge of its own, so the next short
  // read stops again rather than costing every later arrival a read that finds nothing.
  if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) readAll_ = false;
  if (n > 0 && lingering) input_.clear();
  bool lent = false;
  if (n > 0 && !lingering) {
    bump(options.bytesIn, static_cast<size_t>(n), options.countersOwned);
    touch();
    lent = lendOutput();
    ++inCallback_;
    events_.onStreamData(*this, input_);
    --inCallback_;
  }
  if (spare) {
    input_.swap(*spare);
    if (state_ == State::kOpen && !spare->empty()) input_.append(spare->view());  // partial
    loop_.returnReadBuffer();
  } else {
    input_.shrinkIfIdle(0);  // a large message is done: reads go to the loop's buffer again
  }
  if (lingering) {
    if (n == 0 || (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR)) {
      close(pendingReason_);
    }
  } else if (n > 0) {
    if (state_ != State::kClosed) flush();
    if (lent) keepOutput();
  } else if (n == 0) {
    handleEof();
  } else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
    closeOnError("read", err);
  }
  readNextTurn();
}

// Level-triggered, the poller would report input this read left behind on the next wait;
// registered for edges it will not, so the stream queues that read itself, after every
// other ready stream has had its go. Reading paused, it waits for updateInterest.
void Stream::readNextTurn() {
  if (!readMore_ || readScheduled_ || !(interest_ & kEdge) || state_ == State::kClosed) return;
  if (!(wantedInterest() & kReadable)) return;
  readScheduled_ = true;
  readTicket_ = loop_.runNextTurnCancellable([this] {
    readScheduled_ = false;
    if (readMore_ && state_ != State::kClosed && (interest_ & kEdge) &&
        (wantedInterest() & kReadable)) {
      handleRead();
    }
  });
}

// The replies a callback makes go to the loop's one write buffer when nothing is queued, the
// usual case (a request, its reply): written whole by the flush that follows, they never
// touch this stream's own storage, which at a thousand connections saves a cache miss or two
// per request.
bool Stream::lendOutput() {
  if (queued_ != 0) return false;
  Buffer* lent = loop_.borrowWriteBuffer();
  if (!lent) return false;
  output_ = lent;
  return true;
}

// What the socket did not take moves into the stream's own storage (empty while the loop's
// was lent); past a read's worth the two storages are exchanged rather than copied.
void Stream::keepOutput() {
  Buffer& lent = *output_;
  output_ = &out_;
  if (!lent.empty()) {
    if (lent.readable() > Buffer::kReadChunk) {
      out_.swap(lent);
    } else {
      out_.append(lent.view());
    }
  }
  loop_.returnWriteBuffer();
}

void Stream::handleEof() {
  readEof_ = true;
  updateInterest();
  if (state_ == State::kClosed) return;
  ++inCallback_;
  events_.onStreamEof(*this);
  --inCallback_;
  if (state_ == State::kClosed) return;
  if (writeShut_) {
    close({CloseKind::kPeerClosed, 0, "closed"});
    return;
  }
  flush();
}

bool Stream::send(std::string_view data, size_t maxQueued) {
  if (data.empty()) return isOpen() && !writeShut();
  Buffer* out = appendTarget();
  if (!out) return false;
  out->append(data);
  return commitAppend(data.size(), maxQueued);
}

Buffer* Stream::appendTarget() {
  assertInLoopThread();
  if (state_ == State::kClosed || writeShut()) return nullptr;
  assert(filesQueued_ > 0 || later_.empty());
  if (filesQueued_ == 0) return output_;
  if (later_.back().file.valid()) later_.emplace_back();
  return &later_.back().bytes;
}

bool Stream::commitAppend(size_t bytes, size_t maxQueued) {
  if (bytes == 0) return state_ != State::kClosed;
  if (queued_ == 0) lastProgressNs_ = loop_.iterationNs();
  queued_ += bytes;
  if (maxQueued > 0 && queued_ > maxQueued && !fitsAfterFlush(maxQueued)) return false;
  checkWater();
  if (state_ != State::kClosed && inCallback_ == 0) deferFlush();
  return state_ != State::kClosed;
}

// Only what the kernel will not take counts against the bound: write before judging.
bool Stream::fitsAfterFlush(size_t maxQueued) {
  flush();
  if (state_ == State::kClosed) return false;
  if (queued_ <= maxQueued) return true;
  close({CloseKind::kSlowConsumer, 0,
         "too slow: over " + std::to_string(maxQueued) + " bytes queued (" +
             std::to_string(queued_) + ")"});
  return false;
}

bool Stream::sendFile(int fd, int64_t offset, int64_t length) {
  assertInLoopThread();
  if (state_ == State::kClosed || writeShut() || offset < 0 || length < 0) return false;
  if (length == 0) return true;
  Fd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) {
    close(CloseReason::fromErrno("sendfile: dup", errno));
    return false;
  }
  ignoreSigpipeOnce();
  if (queued_ == 0) lastProgressNs_ = loop_.iterationNs();
  Segment segment;
  segment.file = std::move(copy);
  segment.offset = offset;
  segment.length = length;
  later_.push_back(std::move(segment));
  ++filesQueued_;
  queued_ += static_cast<size_t>(length);
  checkWater();
  if (state_ != State::kClosed && inCallback_ == 0) deferFlush();
  return state_ != State::kClosed;
}

// Several sends in one iteration (replies, messages from other connections) cost one write
// (Redis's handleClientsWithPendingWrites).
void Stream::deferFlush() {
  if (flushDeferred_) return;
  flushDeferred_ = true;
  flushTicket_ = loop_.deferCancellable([this] {
    flushDeferred_ = false;
    if (state_ != State::kClosed) flush();
  });
}

// Writes until the queue is empty or the kernel takes less than offered, then decides reading
// and writing interest from what is left: the one place backpressure is decided.
void Stream::flush() {
  bool wrote = false;
  if (queued_ > 0) {
    wrote = writeSome();
    if (state_ == State::kClosed) return;
  }
  afterWrite(wrote);
}

bool Stream::writeSome() {
  size_t before = queued_;
  if (filesQueued_ > 0) {
    if (!writeWithFiles()) return false;
  } else if (!output_->empty() && !writeBytes()) {
    return false;
  }
  if (corked_ && filesQueued_ == 0 && output_->empty()) {  // the last file sent: push its tail
    corked_ = false;
    transport_->setCork(false);
  }
  size_t written = before - queued_;
  if (written == 0) return false;
  bump(options_->bytesOut, written, options_->countersOwned);
  touch();
  lastProgressNs_ = loop_.iterationNs();
  return true;
}

// One write of the bytes queued before any file range; false if it closed the stream.
bool Stream::writeBytes() {
  bump(options_->writes, 1, options_->countersOwned);
  ssize_t n = output_->writeTo(*transport_);
  if (n >= 0) {
    queued_ -= static_cast<size_t>(n);
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
  closeOnError("write", errno);
  return false;
}

// A queue holding file ranges goes out in order: bytes, a range by sendfile(2), the bytes
// queued after it, corked so a head leaves with the file's first bytes. False if it closed
// the stream.
bool Stream::writeWithFiles() {
  if (!corked_) {
    corked_ = true;
    transport_->setCork(true);
  }
  for (;;) {
    if (!output_->empty()) {
      if (!writeBytes()) return false;
      if (!output_->empty()) break;  // the socket is full
    }
    if (later_.empty()) break;
    Segment& front = later_.front();
    if (!front.file.valid()) {
      std::swap(*output_, front.bytes);
      later_.pop_front();
      continue;
    }
    bump(options_->writes, 1, options_->countersOwned);
    ssize_t n =
        transport_->sendFile(front.file.get(), front.offset, static_cast<size_t>(front.length));
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      closeOnError("sendfile", errno);
      return false;
    }
    if (n == 0) {
      closeFileEnded(front.offset, front.length);
      return false;
    }
    front.offset += n;
    front.length -= n;
    queued_ -= static_cast<size_t>(n);
    if (front.length > 0) break;  // the socket is full, or the next chunk waits a turn
    later_.pop_front();
    --filesQueued_;
  }
  return true;
}

bool Stream::stalledFor(int64_t ns) const {
  return queued_ > 0 && loop_.iterationNs() - lastProgressNs_ >= ns;
}

void Stream::afterWrite(bool wrote) {
  checkWater();  // low water is told before drained
  if (state_ == State::kClosed) return;
  if (queued_ == 0) {
    if (output_ == &out_) out_.shrinkIfIdle();  // lent, the stream's own stayed untouched
    if (wrote) {
      events_.onStreamDrained(*this);
      if (state_ == State::kClosed) return;
    }
    if (queued_ == 0 && state_ == State::kClosing) {
      finishClosing();
      return;
    }
    if (queued_ == 0 && shutdownPending_) {
      shutdownPending_ = false;
      writeShut_ = true;
      if (transport_->shutdownWrite() != 0 && errno != ENOTCONN) {
        close(CloseReason::fromErrno("shutdown", errno));
        return;
      }
      if (readEof_) {
        close({CloseKind::kPeerClosed, 0, "closed"});
        return;
      }
    }
  }
  updateInterest();
}

// Everything owed has been written. Closing now, with the peer's input unread, would make the
// kernel answer with a reset that can destroy the reply still in flight (RFC 1122 4.2.2.13):
// so half-close, read and discard until the peer's FIN or kLingerNs, then close (nginx's
// lingering close).
void Stream::finishClosing() {
  if (readEof_ || writeShut_) {
    close(pendingReason_);
    return;
  }
  if (lingering_) return;
  lingering_ = true;
  writeShut_ = true;
  if (transport_->shutdownWrite() != 0) {
    close(pendingReason_);
    return;
  }
  runAfter(kLingerNs, [this] { close(pendingReason_); });
  updateInterest();
}

void Stream::checkWater() {
  if (!aboveHigh_ && queued_ >= options_->highWater) {
    aboveHigh_ = true;
    events_.onStreamHighWater(*this, queued_);
  } else if (aboveHigh_ && queued_ <= options_->highWater / 2) {
    aboveHigh_ = false;
    events_.onStreamLowWater(*this);
  }
}

uint32_t Stream::wantedInterest() const {
  uint32_t want = 0;
  bool paused = !readEnabled_ || (aboveHigh_ && options_->pauseOnHighWater);
  if (state_ == State::kOpen && !readEof_ && !paused) want |= kReadable;
  if (lingering_ && !readEof_) want |= kReadable;
  if (queued_ > 0) want |= kWritable;
  return want;
}

// Registers what the stream wants, lazily in two ways that save a proxied or delayed exchange
// an epoll_ctl pair each (the kernel is told only when it would otherwise report in vain):
// - reading paused stays registered until the poller first reports the socket readable, and
//   onReady drops it then; a client waiting for its answer usually sends nothing meanwhile;
// - write interest waits for the flush already scheduled, which usually writes everything.
void Stream::updateInterest() {
  uint32_t want = wantedInterest();
  if (!readEof_) want |= interest_ & kReadable;
  bool flushComing = flushDeferred_ || inCallback_ > 0;
  if (flushComing && !(interest_ & kWritable)) want &= ~kWritable;
  setInterest(want);
  readNextTurn();  // reading resumed over input an edge has already reported
}

// A stream that wants nothing leaves the poller altogether (libuv does the same): epoll and
// poll report a hang-up whatever the interest, and a paused stream would spin on it.
void Stream::setInterest(uint32_t want) {
  // Edges while reading alone: writes stay level-triggered, so a write cut short by a turn's
  // bound (a sendfile chunk) is reported again. A change re-checks readiness (epoll_ctl
  // polls the socket), so input that arrived meanwhile is reported either way.
  if (edges_ && (want & (kReadable | kWritable)) == kReadable) want |= kEdge;
  if (want == interest_) return;
  Status s;
  if (want == 0) {
    loop_.unwatch(transport_->fd());
  } else if (interest_ == 0) {
    s = loop_.watch(transport_->fd(), want, this);
  } else {
    s = loop_.rewatch(transport_->fd(), want, this);
  }
  interest_ = want;
  if (!s.ok()) close({closeKindFromErrno(s.error().code), s.error().code, s.error().message});
}

void Stream::setReading(bool on) {
  assertInLoopThread();
  if (readEnabled_ == on) return;
  readEnabled_ = on;
  if (state_ != State::kClosed) updateInterest();
}

void Stream::shutdownWrite() {
  assertInLoopThread();
  if (state_ == State::kClosed || writeShut()) return;
  shutdownPending_ = true;
  if (inCallback_ == 0) flush();
}

void Stream::closeAfterFlush(CloseReason reason) {
  assertInLoopThread();
  if (state_ != State::kOpen) return;
  state_ = State::kClosing;
  pendingReason_ = std::move(reason);
  input_.clear();
  if (inCallback_ == 0) flush();
}

void Stream::close(CloseReason reason) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  // Nothing is left to flush or read, and a closed stream may outlive its loop's queues (a
  // timer holding the last reference, destroyed with the loop): it leaves nothing queued.
  if (flushDeferred_) loop_.cancelDeferred(flushTicket_);
  flushDeferred_ = false;
  if (readScheduled_) loop_.cancelNextTurn(readTicket_);
  readScheduled_ = false;
  for (auto& entry : timers_) loop_.cancel(entry.second);
  timers_.clear();
  if (idleArmed_) loop_.cancel(idleTimer_);
  idleArmed_ = false;
  if (interest_ != 0) loop_.unwatch(transport_->fd());
  interest_ = 0;
  transport_->close();
  output_->clear();
  out_.clear();
  later_.clear();
  filesQueued_ = 0;
  queued_ = 0;
  events_.onStreamClose(*this, reason);
}

void Stream::closeOnError(const char* what, int err) { close(CloseReason::fromErrno(what, err)); }

void Stream::closeFileEnded(int64_t offset, int64_t length) {
  close({CloseKind::kIoError, 0,
         "sendfile: the file ended at offset " + std::to_string(offset) + ", " +
             std::to_string(length) + " bytes before the end of the range"});
}

Stream::TimerHandle Stream::runAfter(int64_t delayNs, std::function<void()> fn) {
  assertInLoopThread();
  if (state_ == State::kClosed) return 0;
  TimerHandle handle = nextTimer_++;
  timers_[handle] = loop_.runAt(nowNs() + delayNs, [this, handle, fn = std::move(fn)] {
    timers_.erase(handle);
    fn();
  });
  return handle;
}

bool Stream::cancelTimer(TimerHandle handle) {
  auto it = timers_.find(handle);
  if (it == timers_.end()) return false;
  loop_.cancel(it->second);
  timers_.erase(it);
  return true;
}

// Activity only stamps the loop's cached time; the idle timer, when it fires, moves itself to
// the new deadline, which keeps the hot path free of timer-queue updates.
void Stream::touch() {
  if (options_->idleTimeoutNs > 0) lastActiveNs_ = loop_.iterationNs();
}

void Stream::armIdleTimer(int64_t deadlineNs) {
  idleTimer_ = loop_.runAt(deadlineNs, [this] { onIdleTimer(); });
  idleArmed_ = true;
}

void Stream::onIdleTimer() {
  idleArmed_ = false;
  int64_t deadline = lastActiveNs_ + options_->idleTimeoutNs;
  if (nowNs() >= deadline) {
    close({CloseKind::kIdleTimeout, 0, "idle timeout"});
  } else {
    armIdleTimer(deadline);
  }
}

}  // namespace netlab
