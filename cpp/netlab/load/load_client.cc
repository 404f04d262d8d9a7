#include "netlab/load/load_client.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlab/io/clock.h"
#include "netlab/io/socket.h"
#include "netlab/load/load_worker.h"

namespace netlab {

LoadClient::LoadClient(LoadWorker& worker, int index, int64_t phaseNs)
    : w_(worker), index_(index), phaseNs_(phaseNs) {}

LoadClient::~LoadClient() = default;

void LoadClient::connect() {
  reconnectPending_ = false;
  if (w_.scenario_.connectionPerRequest() && inflight_.empty() && !reserveRequest()) return;
  state_ = State::kConnecting;
  connectStartNs_ = nowNs();
  ++w_.connectsInFlight_;
  ++w_.syscalls_.connect;
  bool connected = false;
  Result<Fd> fd = startConnect(w_.endpoint_, connected);
  if (!fd.ok()) {
    fail(loadErrorFromErrno(fd.error().code), describeSocketError("connect", fd.error().code));
    return;
  }
  fd_ = std::move(fd.value());
  setNoDelay(fd_.get());
  interest_ = kWritable;
  if (!w_.loop_->watch(fd_.get(), interest_, this).ok()) {
    fail(LoadError::kOther, "cannot watch the socket");
    return;
  }
  if (connected) onConnected();
}

// Connection per request: the request starts with its connection, so its latency includes
// the handshake. In open loop it waits for its place in the schedule.
bool LoadClient::reserveRequest() {
  int64_t now = nowNs();
  int64_t intended = now;
  if (w_.plan_.intervalNs > 0) {
    if (nextIntendedNs_ == 0) nextIntendedNs_ = now + phaseNs_;
    if (nextIntendedNs_ > now) {
      reconnectPending_ = true;
      reconnectTimer_ = w_.loop_->runAt(nextIntendedNs_, [this] { connect(); });
      return false;
    }
    intended = nextIntendedNs_;
  }
  if (!w_.takeRequest()) return false;
  if (w_.plan_.intervalNs > 0) nextIntendedNs_ += w_.plan_.intervalNs;
  inflight_.push_back({w_.nextSeq(), intended, 0});
  w_.noteInflight(1);
  return true;
}

void LoadClient::onReady(uint32_t ready) {
  if (state_ == State::kConnecting) {
    int err = finishConnect(fd_.get());
    if (err != 0) {
      fail(loadErrorFromErrno(err), describeSocketError("connect", err));
      return;
    }
    onConnected();
    return;
  }
  if (state_ != State::kConnected) return;
  if (ready & kWritable) flush();
  if (state_ == State::kConnected && (ready & kReadable)) handleRead();
}

void LoadClient::onConnected() {
  state_ = State::kConnected;
  w_.connectFinished();
  w_.connectionsOpened.fetch_add(1, std::memory_order_relaxed);
  int64_t now = nowNs();
  if (w_.scenario_.connectionPerRequest()) {
    Request& r = inflight_.front();
    r.sentNs = now;
    w_.scenario_.writeRequest(r.seq, out_);
    w_.noteSent(1, out_.readable(), now);
    noteFirstSend();
    flush();
    return;
  }
  if (w_.plan_.intervalNs > 0 && nextIntendedNs_ == 0) nextIntendedNs_ = now + phaseNs_;
  if (w_.scenario_.streaming()) {
    w_.scenario_.writeGreeting(index_, out_);
    flush();
  }
  trySend();
}

// Sends every request that is due and fits in the pipeline, then writes them in one call.
void LoadClient::trySend() {
  if (state_ != State::kConnected || w_.stopping_) return;
  int64_t now = nowNs();
  if (w_.scenario_.streaming()) {
    sendStamped(now);
    return;
  }
  size_t before = out_.readable();
  size_t sent = 0;
  while (inflight_.size() < static_cast<size_t>(w_.config_.pipeline)) {
    int64_t due = w_.plan_.intervalNs > 0 ? nextIntendedNs_ : thinkUntilNs_;
    if (due > now) {
      armSendTimer(due);
      break;
    }
    if (!w_.takeRequest()) break;
    int64_t intended = w_.plan_.intervalNs > 0 ? nextIntendedNs_ : now;
    if (w_.plan_.intervalNs > 0) nextIntendedNs_ += w_.plan_.intervalNs;
    inflight_.push_back({w_.nextSeq(), intended, now});
    w_.scenario_.writeRequest(inflight_.back().seq, out_);
    w_.noteInflight(1);
    ++sent;
  }
  if (sent == 0) return;
  w_.noteSent(sent, out_.readable() - before, now);
  noteFirstSend();
  flush();
}

// Streaming: every message that is due goes out now, stamped with its place in the schedule;
// nothing waits for a reply.
void LoadClient::sendStamped(int64_t now) {
  size_t before = out_.readable();
  size_t sent = 0;
  while (nextIntendedNs_ <= now && w_.takeRequest()) {
    w_.scenario_.writeStamped(w_.nextSeq(), nextIntendedNs_, now, out_);
    nextIntendedNs_ += w_.plan_.intervalNs;
    ++sent;
  }
  if (!w_.stopping_) armSendTimer(nextIntendedNs_);
  if (sent == 0) return;
  w_.noteSent(sent, out_.readable() - before, now);
  noteFirstSend();
  flush();
}

void LoadClient::readDeliveries(int64_t now) {
  std::string why;
  size_t consumed = w_.scenario_.readDeliveries(
      in_.view(), scanned_,
      [&](int64_t intended, int64_t sent) {
        markAnswered();
        w_.noteResponse(intended, sent, now);
      },
      why);
  in_.consume(consumed);
  if (!why.empty()) {
    fail(LoadError::kProtocol, why);
  } else if (in_.readable() > w_.config_.maxResponse) {
    fail(LoadError::kProtocol, "a line longer than max_response");
  }
}

void LoadClient::armSendTimer(int64_t atNs) {
  if (sendTimerArmed_) return;
  sendTimerArmed_ = true;
  sendTimer_ = w_.loop_->runAt(atNs, [this] {
    sendTimerArmed_ = false;
    trySend();
  });
}

void LoadClient::flush() {
  if (!out_.empty()) {
    ++w_.syscalls_.write;
    ssize_t n = out_.writeTo(fd_.get());
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      int err = errno;
      fail(loadErrorFromErrno(err), describeSocketError("write", err));
      return;
    }
  }
  updateInterest();
}

void LoadClient::updateInterest() {
  uint32_t want = kReadable | (out_.empty() ? 0 : kWritable);
  if (want == interest_) return;
  interest_ = want;
  Status watched = w_.loop_->rewatch(fd_.get(), want, this);
  if (!watched.ok()) fail(LoadError::kOther, watched.error().message);
}

void LoadClient::handleRead() {
  ++w_.syscalls_.read;
  ssize_t n = in_.readFrom(fd_.get(), Buffer::kReadChunk);
  if (n == 0) {
    if (!inflight_.empty() || w_.scenario_.streaming()) {
      fail(LoadError::kClosed, "the server closed the connection with a request outstanding");
    } else {
      closeSocket();  // an idle connection closed by the server is no failed request
      scheduleReconnect();
    }
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    int err = errno;
    fail(loadErrorFromErrno(err), describeSocketError("read", err));
    return;
  }
  w_.noteReceived(static_cast<size_t>(n));
  int64_t now = nowNs();
  if (w_.scenario_.streaming()) {
    readDeliveries(now);
    return;
  }
  markAnswered();
  while (!inflight_.empty()) {
    size_t consumed = 0;
    std::string why;
    Verdict v =
        w_.scenario_.readResponse(inflight_.front().seq, in_.view(), scanned_, consumed, why);
    if (v == Verdict::kIncomplete) {
      if (in_.readable() > w_.config_.maxResponse) {
        fail(LoadError::kProtocol, "response larger than max_response (" +
                                       std::to_string(w_.config_.maxResponse) + " bytes)");
      }
      return;
    }
    if (v != Verdict::kOk) {
      fail(v == Verdict::kMismatch ? LoadError::kMismatch : LoadError::kProtocol, why);
      return;
    }
    in_.consume(consumed);
    scanned_ = 0;
    Request done = inflight_.front();
    inflight_.pop_front();
    w_.noteInflight(-1);
    w_.noteResponse(done.intendedNs, done.sentNs, now);
    failuresInARow_ = 0;
    if (w_.scenario_.connectionPerRequest()) {
      closeSocket();
      if (w_.canReconnect()) connect();
      w_.maybeFinish();
      return;
    }
    if (w_.config_.thinkTimeSec > 0) {
      thinkUntilNs_ = now + static_cast<int64_t>(w_.config_.thinkTimeSec * kNsPerSec);
    }
  }
  if (!in_.empty()) {
    fail(LoadError::kProtocol, "bytes arrived with no request outstanding");
    return;
  }
  trySend();
  w_.maybeFinish();
}

void LoadClient::checkTimeouts(int64_t now) {
  if (state_ == State::kConnecting &&
      now - connectStartNs_ > static_cast<int64_t>(w_.config_.connectTimeoutSec * kNsPerSec)) {
    fail(LoadError::kTimeout, "connect timed out");
    return;
  }
  if (state_ == State::kConnected && !inflight_.empty() && inflight_.front().sentNs > 0 &&
      now - inflight_.front().sentNs >
          static_cast<int64_t>(w_.config_.responseTimeoutSec * kNsPerSec)) {
    fail(LoadError::kTimeout, "no response within the response timeout");
  }
}

void LoadClient::fail(LoadError kind, const std::string& why) {
  if (state_ == State::kConnecting) w_.connectFinished();
  size_t failed = inflight_.size();
  w_.noteInflight(-static_cast<int>(failed));
  inflight_.clear();
  closeSocket();
  // A failed attempt with nothing outstanding still uses budget, so a dead server ends a run.
  if (failed == 0) w_.takeRequest();
  w_.noteFailure(kind, why, std::max<size_t>(failed, 1));
  scheduleReconnect();
  w_.maybeFinish();
}

void LoadClient::closeSocket() {
  if (sendTimerArmed_) w_.loop_->cancel(sendTimer_);
  sendTimerArmed_ = false;
  if (fd_.valid()) {
    w_.loop_->unwatch(fd_.get());
    fd_.reset();
  }
  state_ = State::kDisconnected;
  interest_ = 0;
  in_.clear();
  out_.clear();
  scanned_ = 0;
}

// Exponential backoff from 10 ms to 1 s, so a refusing server is not hammered in a tight loop.
void LoadClient::scheduleReconnect() {
  if (!w_.canReconnect() || reconnectPending_) return;
  int64_t delay =
      failuresInARow_ == 0
          ? kNsPerMs
          : std::min<int64_t>(kNsPerSec, (10 * kNsPerMs) << std::min(failuresInARow_, 7));
  ++failuresInARow_;
  reconnectPending_ = true;
  reconnectTimer_ = w_.loop_->runAt(nowNs() + delay, [this] { connect(); });
}

void LoadClient::noteFirstSend() {
  if (sentAny_) return;
  sentAny_ = true;
  if (!answered_) w_.noteWaitingForFirstAnswer(1);
}

void LoadClient::markAnswered() {
  if (answered_) return;
  answered_ = true;
  if (sentAny_) w_.noteWaitingForFirstAnswer(-1);
}

size_t LoadClient::unansweredCount() const {
  return static_cast<size_t>(std::count_if(inflight_.begin(), inflight_.end(),
                                           [](const Request& r) { return r.sentNs > 0; }));
}

int64_t LoadClient::oldestInflightNs() const {
  if (inflight_.empty()) return 0;
  return inflight_.front().sentNs;
}

void LoadClient::shutdown() {
  if (reconnectPending_) w_.loop_->cancel(reconnectTimer_);
  reconnectPending_ = false;
  w_.noteInflight(-static_cast<int>(inflight_.size()));
  inflight_.clear();
  closeSocket();
}

}  // namespace netlab
