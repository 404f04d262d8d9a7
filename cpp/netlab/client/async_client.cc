#include "netlab/client/async_client.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "netlab/http/parser.h"
#include "netlab/io/buffer.h"
#include "netlab/io/clock.h"
#include "netlab/io/connector.h"
#include "netlab/io/stream.h"

namespace netlab {
/// One connection slot: requests are sent as they are submitted and answered in order. The
/// bytes move through a Stream, the connect through a Connector, as a server's do.
class AsyncConn final : public StreamEvents {
 public:
  AsyncConn(AsyncClient& client) : c_(client) {}
  ~AsyncConn() override { closeStream(); }

  void submit(uint64_t ticket, std::optional<std::string> line, std::optional<std::string> expect,
              bool http = false, bool head = false) {
    pending_.push_back(
        {ticket, c_.seq_++, nowNs(), false, std::move(line), std::move(expect), http, head});
    if (!stream_ && !connector_) {
      connect();
    } else if (stream_) {
      sendPending();
    }
  }

  void checkTimeouts(int64_t now) {
    if (!pending_.empty() && pending_.front().sent &&
        now - pending_.front().startNs >
            static_cast<int64_t>(c_.config_.responseTimeoutSec * kNsPerSec)) {
      failAll(LoadError::kTimeout, "no response within the response timeout");
    }
  }

  void failAll(LoadError kind, const std::string& why) {
    closeStream();
    while (!pending_.empty()) {
      AsyncClient::Completion done;
      done.ticket = pending_.front().ticket;
      done.kind = kind;
      done.message = why;
      done.latencyNs = nowNs() - pending_.front().startNs;
      pending_.pop_front();
      c_.complete(std::move(done));
    }
  }

  void onStreamData(Stream&, Buffer& input) override { readResponses(input); }
  void onStreamEof(Stream&) override {
    if (pending_.empty()) return closeStream();  // an idle connection closed: reconnect later
    // An HTTP response without a length ends when the server closes (RFC 9112 §6.3).
    if (pending_.front().http && stream_) {
      http::Event e = http_.finish(stream_->input().view());
      if (e.type == http::Event::kBody) body_.append(e.body);
      if (e.type == http::Event::kBody || e.type == http::Event::kEnd) {
        http::Event end = e.type == http::Event::kEnd ? e : http_.finish({});
        if (end.type == http::Event::kEnd) return completeHttp(/*closes=*/true);
      }
    }
    failAll(LoadError::kClosed, "the server closed the connection");
  }
  // Only closes the stream itself decided (errors, resets) fail requests here; closeStream()
  // lets go of stream_ before closing it.
  void onStreamClose(Stream&, const CloseReason& reason) override {
    if (stream_ && !pending_.empty()) failAll(loadErrorFromCloseKind(reason.kind), reason.text());
  }

 private:
  struct Pending {
    uint64_t ticket, seq;
    int64_t startNs;
    bool sent;
    std::optional<std::string> line, expect;  // a line request, or an HTTP request's bytes
    bool http = false, head = false;
  };

  // The front request is HTTP: its response is parsed with the connection's parser as it
  // arrives, the body kept (up to max_response) for the caller.
  Verdict readHttp(Buffer& in, std::string& why) {
    for (;;) {
      http::Event e = http_.next(in.view());
      std::string_view piece = e.body;
      if (e.type == http::Event::kBody) {
        if (body_.size() + piece.size() > c_.config_.maxResponse) {
          why = "response body larger than max_response (" +
                std::to_string(c_.config_.maxResponse) + " bytes)";
          return Verdict::kProtocolError;
        }
        body_.append(piece);
      }
      in.consume(e.consumed);
      switch (e.type) {
        case http::Event::kHead:
          if (!http_.head().informational()) noteHead();
          break;
        case http::Event::kBody:
          break;
        case http::Event::kEnd:
          if (status_ != 0) return Verdict::kOk;
          break;  // after a 1xx: the final response follows
        case http::Event::kNeedData:
          return Verdict::kIncomplete;
        case http::Event::kClosed:
        case http::Event::kError:
          why = "bad response: " + std::string(http_.error().reason);
          return Verdict::kProtocolError;
      }
    }
  }

  void noteHead() {
    const http::Head& h = http_.head();
    status_ = h.status;
    closes_ = !h.keepAlive;
    headers_.clear();
    for (const http::Field& f : h.fields) headers_.emplace_back(f.name, f.value);
  }

  void completeHttp(bool closes) {
    AsyncClient::Completion done;
    done.ticket = pending_.front().ticket;
    done.ok = true;
    done.latencyNs = nowNs() - pending_.front().startNs;
    done.bytes = body_.size();
    done.status = status_;
    done.headers = std::move(headers_);
    done.body = std::move(body_);
    pending_.pop_front();
    resetHttp();
    c_.complete(std::move(done));
    if (closes || closes_) {
      closeStream();
      // Requests pipelined behind the last response were lost with the connection; they are
      // not sent again, since a POST must not be repeated behind its caller's back.
      bool lost = !pending_.empty() && pending_.front().sent;
      if (lost) return failAll(LoadError::kClosed, "the server closed after an earlier response");
      if (!pending_.empty()) connect();
    }
  }

  void resetHttp() {
    status_ = 0;
    closes_ = false;
    headers_.clear();
    body_.clear();
  }

  // A request given as a line: the first line equal to `expect` answers it; chat notices
  // ("* ...") and room messages ("<nick> ...") before it are passed over, since other
  // members produce them at any time; anything else is a mismatch.
  Verdict readExpectedLine(Buffer& in, const Pending& p, size_t& consumed, std::string& why) {
    size_t at = 0;
    for (;;) {
      FrameView frame;
      ParseResult r = c_.lines_->parse(in.view().substr(at), at == 0 ? scanned_ : 0, frame);
      if (r.status == ParseResult::kNeedMore) {
        in.consume(at);
        scanned_ = in.readable();
        return Verdict::kIncomplete;
      }
      if (r.status == ParseResult::kError) {
        why = r.error.message;
        return Verdict::kProtocolError;
      }
      if (frame.payload == *p.expect) {
        consumed = at + r.consumed;
        return Verdict::kOk;
      }
      bool passOver = frame.payload.rfind("* ", 0) == 0 || frame.payload.rfind("<", 0) == 0;
      if (!passOver) {
        why = "expected '" + *p.expect + "', got '" + std::string(frame.payload) + "'";
        return Verdict::kMismatch;
      }
      at += r.consumed;
    }
  }

  void connect() {
    int64_t timeoutNs = static_cast<int64_t>(c_.config_.connectTimeoutSec * kNsPerSec);
    connector_ = Connector::start(
        *c_.loop_, c_.endpoint_, timeoutNs, "", [this](Fd fd, CloseReason failure) {
          connector_.reset();
          if (!fd.valid()) {
            return failAll(loadErrorFromCloseKind(failure.kind), failure.text());
          }
          open(std::move(fd));
        });
  }

  void open(Fd fd) {
    static const StreamOptions options = [] {
      StreamOptions o;
      o.pauseOnHighWater = false;  // replies are read whatever is still to be sent
      return o;
    }();
    stream_ = std::make_shared<Stream>(*c_.loop_, std::move(fd), options, *this);
    Status started = stream_->start();
    if (!started.ok()) return failAll(LoadError::kOther, started.error().message);
    sendPending();
  }

  void sendPending() {
    scratch_.clear();
    for (Pending& p : pending_) {
      if (p.sent) continue;
      if (p.http) {
        http_.expectResponseTo(p.head ? "HEAD" : "GET");
        scratch_.append(*p.line);
      } else if (p.line) {
        scratch_.append(*p.line);
        scratch_.append("\n");
      } else {
        c_.scenario_->writeRequest(p.seq, scratch_);
      }
      p.sent = true;
    }
    if (!scratch_.empty()) stream_->send(scratch_.view());
  }

  void readResponses(Buffer& in) {
    int64_t now = nowNs();
    while (!pending_.empty() && pending_.front().sent) {
      size_t consumed = 0;
      std::string why;
      ResponseInfo info;
      const Pending& front = pending_.front();
      if (front.http) {
        Verdict v = readHttp(in, why);
        if (v == Verdict::kIncomplete) return;
        if (v != Verdict::kOk) return failAll(LoadError::kProtocol, why);
        bool closes = closes_;
        completeHttp(closes);
        if (closes) return;
        continue;
      }
      Verdict v = front.expect ? readExpectedLine(in, front, consumed, why)
                               : c_.scenario_->readResponse(front.seq, in.view(), scanned_,
                                                            consumed, why, info);
      if (v == Verdict::kIncomplete) break;
      if (v != Verdict::kOk) {
        return failAll(v == Verdict::kMismatch ? LoadError::kMismatch : LoadError::kProtocol, why);
      }
      AsyncClient::Completion done;
      done.ticket = pending_.front().ticket;
      done.ok = true;
      done.latencyNs = now - pending_.front().startNs;
      done.bytes = consumed;
      pending_.pop_front();
      in.consume(consumed);
      scanned_ = 0;
      c_.complete(std::move(done));
      if (c_.scenario_->connectionPerRequest() || info.closes) {
        closeStream();
        if (!pending_.empty()) connect();
        return;
      }
    }
    if (in.readable() > c_.config_.maxResponse) {
      failAll(LoadError::kProtocol, "response larger than max_response");
    }
  }

  // The stream may be inside one of its own callbacks: it is destroyed after this turn.
  void closeStream() {
    connector_.reset();
    scanned_ = 0;
    http_.reset();  // a new connection starts a new stream of responses
    resetHttp();
    if (!stream_) return;
    std::shared_ptr<Stream> stream = std::move(stream_);
    stream->close({CloseKind::kLocalClose, 0, "closed"});
    c_.loop_->destroyLater(std::move(stream));
  }

  AsyncClient& c_;
  std::shared_ptr<Connector> connector_;
  std::shared_ptr<Stream> stream_;
  Buffer scratch_;
  size_t scanned_ = 0;
  std::deque<Pending> pending_;
  http::Parser http_{http::Role::kResponse};
  int status_ = 0;  // of the HTTP response being read; 0 until its final head
  bool closes_ = false;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
};

Result<std::unique_ptr<AsyncClient>> AsyncClient::create(LoadConfig config) {
  Status valid = validate(config, /*runEnds=*/false);
  if (!valid.ok()) return valid.error();
  if (config.scenario == "chat") return Error{EINVAL, "the chat scenario is not request/response"};
  auto scenario = makeScenario(config);
  if (!scenario.ok()) return scenario.error();
  if (scenario.value()->streaming())
    return Error{EINVAL, "the " + config.scenario + " scenario is not request/response"};
  auto endpoint = resolveEndpoint(config.host, config.port);
  if (!endpoint.ok()) return endpoint.error();
  auto loop = EventLoop::create("epoll");
  if (!loop.ok()) return loop.error();
  Fd notify(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!notify.valid()) return sysError("eventfd");
  return std::make_unique<AsyncClient>(std::move(config), std::move(scenario.value()),
                                       endpoint.value(), std::move(loop.value()),
                                       std::move(notify));
}

AsyncClient::AsyncClient(LoadConfig config, std::unique_ptr<Scenario> scenario, Endpoint endpoint,
                         std::unique_ptr<EventLoop> loop, Fd notifyFd)
    : config_(std::move(config)),
      scenario_(std::move(scenario)),
      endpoint_(endpoint),
      loop_(std::move(loop)),
      notifyFd_(std::move(notifyFd)) {
  Error unused;  // fixed, valid arguments
  lines_ = makeLineCodec("\n", config_.maxResponse, true, &unused);
  loop_->runAt(nowNs() + 10 * kNsPerMs, [this] { onTick(); });
  thread_ = std::thread([this] {
    // Only the poller itself can fail; every request still waiting then fails with it.
    Status s = loop_->run();
    if (s.ok()) return;
    down_ = true;  // no more submits
    for (auto& entry : conns_) entry.second->failAll(LoadError::kOther, s.error().message);
  });
}

AsyncClient::~AsyncClient() { shutdown(); }

uint64_t AsyncClient::openConnection() { return nextConn_.fetch_add(1); }

void AsyncClient::closeConnection(uint64_t conn) {
  loop_->post([this, conn] {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    it->second->failAll(LoadError::kClosed, "connection closed by the caller");
    conns_.erase(it);
  });
}

bool AsyncClient::submit(uint64_t conn, uint64_t ticket, std::optional<std::string> line,
                         std::optional<std::string> expect) {
  if (down_) return false;
  return loop_->post([this, conn, ticket, line = std::move(line), expect = std::move(expect)] {
    auto& slot = conns_[conn];
    if (!slot) slot = std::make_unique<AsyncConn>(*this);
    slot->submit(ticket, line, expect);
  });
}

bool AsyncClient::submitHttp(uint64_t conn, uint64_t ticket, std::string request, bool head) {
  if (down_) return false;
  return loop_->post([this, conn, ticket, request = std::move(request), head] {
    auto& slot = conns_[conn];
    if (!slot) slot = std::make_unique<AsyncConn>(*this);
    slot->submit(ticket, request, std::nullopt, /*http=*/true, head);
  });
}

void AsyncClient::onTick() {
  int64_t now = nowNs();
  for (auto& entry : conns_) entry.second->checkTimeouts(now);
  loop_->runAt(now + 10 * kNsPerMs, [this] { onTick(); });
}

// Only the first completion of a batch writes the eventfd: the drainer takes them all.
void AsyncClient::complete(Completion c) {
  bool wasEmpty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wasEmpty = done_.empty();
    done_.push_back(std::move(c));
  }
  if (wasEmpty) {
    uint64_t one = 1;
    while (::write(notifyFd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
}

std::vector<AsyncClient::Completion> AsyncClient::drain() {
  uint64_t count;
  while (::read(notifyFd_.get(), &count, sizeof count) < 0 && errno == EINTR) {
  }
  std::vector<Completion> out;
  std::lock_guard<std::mutex> lock(mutex_);
  out.swap(done_);
  return out;
}

void AsyncClient::shutdown() {
  if (down_.exchange(true)) return;
  loop_->stop();
  if (thread_.joinable()) thread_.join();
  conns_.clear();
}

}  // namespace netlab
