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
  if (w_.connectionPerRequest_ && inflight_.empty() && !reserveRequest()) return;
  state_ = State::kConnecting;
  connectStartNs_ = nowNs();
  ++w_.connectsInFlight_;
  ++w_.syscalls_.connect;
  int64_t timeoutNs = static_cast<int64_t>(w_.config_.connectTimeoutSec * kNsPerSec);
  connector_ =
      Connector::start(*w_.loop_, w_.endpoint_, timeoutNs, "", [this](Fd fd, CloseReason failure) {
        connector_.reset();
        if (!fd.valid()) {
          fail(loadErrorFromCloseKind(failure.kind), failure.text());
        } else {
          onConnected(std::move(fd));
        }
      });
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

void LoadClient::onConnected(Fd fd) {
  stream_ = std::make_shared<Stream>(*w_.loop_, std::move(fd), w_.streamOptions_, *this);
  Status started = stream_->start();
  if (!started.ok()) {
    fail(LoadError::kOther, started.error().message);
    return;
  }
  state_ = State::kConnected;
  w_.connectFinished();
  w_.connectionsOpened.fetch_add(1, std::memory_order_relaxed);
  int64_t now = nowNs();
  if (w_.connectionPerRequest_) {
    Request& r = inflight_.front();
    r.sentNs = now;
    Buffer& out = batch();
    w_.scenario_.writeRequest(r.seq, out);
    w_.noteSent(1, out.readable() - batchStart_, now);
    noteFirstSend();
    flush();
    return;
  }
  if (w_.plan_.intervalNs > 0 && nextIntendedNs_ == 0) nextIntendedNs_ = now + phaseNs_;
  if (w_.streaming_) {
    w_.scenario_.writeGreeting(index_, batch());
    flush();
  }
  trySend();
}

void LoadClient::trySend() { trySend(nowNs()); }

// Sends every request that is due and fits in the pipeline, then writes them in one call.
void LoadClient::trySend(int64_t now) {
  if (state_ != State::kConnected || w_.stopping_) return;
  if (w_.streaming_) {
    sendStamped(now);
    return;
  }
  Buffer& out = batch();
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
    w_.scenario_.writeRequest(inflight_.back().seq, out);
    w_.noteInflight(1);
    ++sent;
  }
  if (sent == 0) return;
  w_.noteSent(sent, out.readable() - batchStart_, now);
  noteFirstSend();
  flush();
}

// Streaming: every message that is due goes out now, stamped with its place in the schedule;
// nothing waits for a reply. A server that stops reading holds up the schedule (at the
// high-water mark), not the generator's memory; the stamps keep the lateness honest.
void LoadClient::sendStamped(int64_t now) {
  if (stream_->queued() >= stream_->options().highWater) return;  // onStreamDrained resumes
  Buffer& out = batch();
  size_t sent = 0;
  bool oneWay = w_.oneWay_;
  // A schedule far behind is caught up a batch per turn, not in one unbounded buffer.
  while (nextIntendedNs_ <= now && out.readable() - batchStart_ < kMaxStampedBatch &&
         w_.takeRequest()) {
    w_.scenario_.writeStamped(w_.nextSeq(), nextIntendedNs_, now, out);
    if (oneWay) {  // nothing will answer: done once written, late by how late it went out
      markAnswered();
      w_.noteResponse(nextIntendedNs_, now, now);
    }
    nextIntendedNs_ += w_.plan_.intervalNs;
    ++sent;
  }
  if (w_.canReconnect()) armSendTimer(nextIntendedNs_);  // not once the budget is spent
  if (sent == 0) return;
  w_.noteSent(sent, out.readable() - batchStart_, now);
  noteFirstSend();
  flush();
}

void LoadClient::readDeliveries(Buffer& in, int64_t now) {
  std::string why;
  size_t consumed = w_.scenario_.readDeliveries(
      in.view(), scanned_,
      [&](int64_t intended, int64_t sent) {
        markAnswered();
        w_.noteResponse(intended, sent, now);
      },
      why);
  in.consume(consumed);
  if (!why.empty()) {
    fail(LoadError::kProtocol, why);
  } else if (in.readable() > w_.config_.maxResponse) {
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

// Requests are written straight into the stream's output (no copy); flush() accounts them,
// and the stream writes them at the end of this turn in one call.
Buffer& LoadClient::batch() {
  Buffer* out = stream_->appendTarget();
  batch_ = out ? out : &discard_;
  batchStart_ = batch_->readable();
  return *batch_;
}

void LoadClient::flush() {
  if (!batch_) return;
  Buffer* out = std::exchange(batch_, nullptr);
  if (out == &discard_) {
    discard_.clear();
    return;
  }
  stream_->commitAppend(out->readable() - batchStart_);
}

void LoadClient::onStreamData(Stream&, Buffer& in) {
  size_t fresh = in.readable() - seenInput_;
  w_.noteReceived(fresh);
  int64_t now = nowNs();
  if (w_.streaming_) {
    readDeliveries(in, now);
  } else {
    readResponses(in, now);
  }
  if (stream_) seenInput_ = stream_->input().readable();
}

void LoadClient::onStreamEof(Stream&) {
  if (!inflight_.empty() || w_.streaming_) {
    fail(LoadError::kClosed, "the server closed the connection with a request outstanding");
  } else {
    closeSocket();  // an idle connection closed by the server is no failed request
    scheduleReconnect();
  }
}

void LoadClient::onStreamDrained(Stream&) {
  if (!w_.streaming_) return;
  trySend();
  if (w_.oneWay_) w_.maybeFinishOneWay();
}

size_t LoadClient::queuedOutput() const { return stream_ ? stream_->queued() : 0; }

// Closes the stream decided itself (resets, write errors); closeSocket() lets go of stream_
// before it closes one, so those never come here.
void LoadClient::onStreamClose(Stream&, const CloseReason& reason) {
  if (stream_) fail(loadErrorFromCloseKind(reason.kind), reason.text());
}

void LoadClient::readResponses(Buffer& in, int64_t now) {
  markAnswered();
  while (!inflight_.empty()) {
    size_t consumed = 0;
    std::string why;
    ResponseInfo info;
    Verdict v =
        w_.scenario_.readResponse(inflight_.front().seq, in.view(), scanned_, consumed, why, info);
    if (v == Verdict::kIncomplete) {
      if (in.readable() > w_.config_.maxResponse) {
        fail(LoadError::kProtocol, "response larger than max_response (" +
                                       std::to_string(w_.config_.maxResponse) + " bytes)");
      }
      return;
    }
    if (v != Verdict::kOk) {
      fail(v == Verdict::kMismatch ? LoadError::kMismatch : LoadError::kProtocol, why);
      return;
    }
    in.consume(consumed);
    scanned_ = 0;
    Request done = inflight_.front();
    inflight_.pop_front();
    w_.noteInflight(-1);
    w_.noteResponse(done.intendedNs, done.sentNs, now);
    if (info.status > 0) w_.noteStatus(info.status);
    backoff_.reset();
    // A server that says it closes after this response (HTTP's Connection: close) gets a new
    // connection for the next request, as connect-per-request does.
    if (w_.connectionPerRequest_ || info.closes) {
      closeSocket();
      if (w_.canReconnect()) connect();
      w_.maybeFinish();
      return;
    }
    if (w_.config_.thinkTimeSec > 0) {
      thinkUntilNs_ = now + static_cast<int64_t>(w_.config_.thinkTimeSec * kNsPerSec);
    }
  }
  if (!in.empty()) {
    fail(LoadError::kProtocol, "bytes arrived with no request outstanding");
    return;
  }
  // The clock read that stamped these responses stamps the next requests too: they are
  // written as soon as this read's callback returns, so a second read would be no truer.
  trySend(now);
  w_.maybeFinish();
}

void LoadClient::checkTimeouts(int64_t now, int64_t timeoutNs) {
  if (state_ == State::kConnected && !inflight_.empty() && inflight_.front().sentNs > 0 &&
      now - inflight_.front().sentNs > timeoutNs) {
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

// The stream may be inside one of its own callbacks: it is destroyed after this turn.
void LoadClient::closeSocket() {
  if (sendTimerArmed_) w_.loop_->cancel(sendTimer_);
  sendTimerArmed_ = false;
  connector_.reset();
  if (stream_) {
    std::shared_ptr<Stream> stream = std::move(stream_);
    stream->close({CloseKind::kLocalClose, 0, "closed"});
    w_.loop_->destroyLater(std::move(stream));
  }
  state_ = State::kDisconnected;
  batch_ = nullptr;
  scanned_ = 0;
  seenInput_ = 0;
}

void LoadClient::scheduleReconnect() {
  if (!w_.canReconnect() || reconnectPending_) return;
  reconnectPending_ = true;
  reconnectTimer_ = w_.loop_->runAt(nowNs() + backoff_.nextDelayNs(), [this] { connect(); });
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
  size_t count = 0;
  for (size_t i = 0; i < inflight_.size(); ++i) count += inflight_[i].sentNs > 0;
  return count;
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
