#include "netlab/apps/http_proxy/exchange.h"

#include <algorithm>

#include "netlab/apps/http/response.h"
#include "netlab/apps/http/routes.h"
#include "netlab/apps/relay.h"
#include "netlab/io/clock.h"
#include "netlab/io/socket.h"

namespace netlab::apps::proxy {
namespace {

using netlab::http::Event;

// A failed upstream, as a status and the sentence the client reads (nginx: 502 for refused,
// reset or a bad response; 504 when the upstream did not connect or answer in time).
int statusFor(const CloseReason& reason) {
  bool late = reason.kind == CloseKind::kConnectTimeout || reason.kind == CloseKind::kIdleTimeout ||
              reason.kind == CloseKind::kMessageTimeout;
  return late ? 504 : 502;
}

// Methods a client may repeat without changing more than once (RFC 9110 §9.2.2); only those,
// and only without a body (none is kept to send again), are retried after bytes were sent.
bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

}  // namespace

// --- the upstream side ------------------------------------------------------------------------

UpstreamSide::UpstreamSide(std::shared_ptr<Link> link, netlab::http::Limits limits,
                           std::shared_ptr<UpstreamPool> pool, size_t upstream)
    : link_(std::move(link)),
      parser_(netlab::http::Role::kResponse, limits),
      pool_(std::move(pool)),
      upstream_(upstream),
      idle_([this] { closeIdle(CloseKind::kIdleTimeout, "idle in the keep-alive pool"); }) {
  link_->upstream = this;
}

void UpstreamSide::onOpen(Conn& conn) {
  opened_ = true;
  conn_ = &conn;
  if (!current() || !link_->client) {  // the client left, or moved on, while we connected
    conn.closeAfterFlush();
    return;
  }
  link_->upstreamConn = &conn;
  link_->client->upstreamOpen(conn);
}

void UpstreamSide::attach(std::shared_ptr<Link> link) {
  parked_ = false;
  idle_.clear();
  link_ = std::move(link);
  link_->upstream = this;
  link_->upstreamConn = conn_;
}

bool UpstreamSide::park() {
  link_.reset();
  // A slow client may have paused it; parked, it must read so that a close is noticed, and
  // the next client sets its own pace (attach).
  conn_->resumeReading();
  if (!pool_->put(upstream_, *this)) return false;
  parked_ = true;
  idle_.set(*conn_, pool_->idleTimeoutSec());
  return true;
}

void UpstreamSide::closeIdle(CloseKind kind, std::string_view why) {
  conn_->close({kind, 0, std::string(why)});
}

size_t UpstreamSide::onData(Conn& conn, Buffer& input) {
  size_t responses = 0;
  while (current() && link_->client) {
    Event e = parser_.next(input.view());
    bool ok = deliver(conn, e, input.readable() > e.consumed);
    input.consume(e.consumed);
    if (!ok) return responses;
    if (e.type == Event::kEnd && !parser_.head().informational()) ++responses;
    if (e.type == Event::kNeedData) {
      if (current() && link_->client) link_->client->upstreamReadDone();
      return responses;
    }
  }
  if ((parked_ || !link_) && input.empty()) return responses;  // parked, or being closed
  // Nobody is waiting for what this connection says (bytes from an idle upstream included).
  input.clear();
  conn.close({CloseKind::kLocalClose, 0, parked_ ? "bytes from an idle upstream" : "client gone"});
  return responses;
}

// One parser event to the client side; false when this connection must stop here.
bool UpstreamSide::deliver(Conn& conn, const Event& e, bool moreInput) {
  ClientSide* client = link_->client;
  switch (e.type) {
    case Event::kNeedData:
      return true;
    case Event::kHead:
      if (client->responseHead(parser_.head())) return true;
      client->detachUpstream();  // first: a request must not be sent to a closing connection
      conn.fail("a response with no request waiting for it");
      return false;
    case Event::kBody:
      client->responseBody(e.body);
      return true;
    case Event::kEnd:
      // Bytes after a response nobody asked for: the connection is out of step, not reusable.
      if (!parser_.head().informational()) {
        client->upstreamFinished(!parser_.head().keepAlive || moreInput);
      }
      return true;
    case Event::kClosed:
      client->detachUpstream();
      conn.closeAfterFlush();  // bytes after a response that ended the connection
      return false;
    case Event::kError:
      client->upstreamFailed({CloseKind::kProtocolError, 0, std::string(parser_.error().reason)},
                             true);
      conn.fail(parser_.error().reason);
      return false;
  }
  return false;
}

// A body delimited by the upstream's close ends here (RFC 9112 §6.3 item 8).
bool UpstreamSide::onEof(Conn& conn) {
  if (parked_) {  // at once: a half-closed connection must not be handed out
    conn.close({CloseKind::kPeerClosed, 0, "upstream closed an idle connection"});
    return false;
  }
  if (!current() || !link_->client) return false;
  Event e = parser_.finish(std::string_view{});
  if (e.type == Event::kEnd) link_->client->upstreamFinished(true);
  // Closing from here on: no request may be sent to it (it would be lost, then a 502).
  if (current() && link_->client) {
    link_->client->upstreamFailed({CloseKind::kPeerClosed, 0, "upstream closed"}, true);
  }
  return false;
}

void UpstreamSide::onDrained(Conn&) {
  if (current() && link_->client) link_->client->upstreamBackedUp(false);
}

void UpstreamSide::onHighWater(Conn&, size_t) {
  if (current() && link_->client) link_->client->upstreamBackedUp(true);
}

void UpstreamSide::onClose(Conn&, const CloseReason& reason) {
  if (parked_) pool_->forget(upstream_, *this);
  if (!current()) return;
  link_->upstream = nullptr;
  link_->upstreamConn = nullptr;
  if (link_->client) link_->client->upstreamFailed(reason, opened_);
}

// --- the client side --------------------------------------------------------------------------

ClientSide::ClientSide(HttpProxyProtocol& protocol)
    : protocol_(protocol),
      link_(std::make_shared<Link>()),
      parser_(netlab::http::Role::kRequest, netlab::http::limitsOf(protocol.options())),
      upstreamDeadline_([this] { onTimeout(); }),
      note_(protocol.logsAccess()) {
  link_->client = this;
}

ClientSide::~ClientSide() { link_->client = nullptr; }

void ClientSide::onOpen(Conn& conn) {
  conn_ = &conn;
  ip_ = withoutPort(conn.peer());
  const HttpProxyOptions& o = protocol_.options();
  pool_ = UpstreamPool::forThisThread(
      protocol_.serial(), {protocol_.upstreams().size(), static_cast<size_t>(o.keepalive),
                           o.keepaliveTimeoutSec, protocol_.idleGauge()});
}

size_t ClientSide::onData(Conn& conn, Buffer& input) {
  if (tunneling_) return tunnel_->onData(conn, input);
  input_ = &input;
  inOnData_ = true;
  size_t requests = loop(conn, input);
  inOnData_ = false;
  return requests;
}

size_t ClientSide::loop(Conn& conn, Buffer& input) {
  size_t requests = 0;
  while (!closing_ && !waitingOpen_ && !waitingResponse_ && !upstreamFull_) {
    if (!inRequest_ && !conn.budgetLeft()) break;
    Event e = parser_.next(input.view());
    switch (e.type) {
      case Event::kNeedData:
        input.consume(e.consumed);
        if (peerDone_ && inRequest_) {  // the client half-closed in the middle of a request
          (void)parser_.finish(input.view());
          failParse();
          return requests;
        }
        if (peerDone_ && !exchanging_) {
          closing_ = true;
          conn.closeAfterFlush();
        }
        return requests;
      case Event::kHead:
        input.consume(e.consumed);
        beginRequest();
        break;
      case Event::kBody:
        forwardBody(e.body);  // before consume: the piece is a view into input
        input.consume(e.consumed);
        break;
      case Event::kEnd:
        input.consume(e.consumed);
        ++requests;
        requestDone();
        break;
      case Event::kClosed:
        closing_ = true;
        conn.closeAfterFlush();
        break;
      case Event::kError:
        failParse();
        break;
    }
  }
  return requests;
}

void ClientSide::beginRequest() {
  const netlab::http::Head& h = parser_.head();
  note_.begin(&h, nowNs());
  exchanging_ = inRequest_ = true;
  responseStarted_ = answered_ = retried_ = false;
  chunkedRequest_ = h.framing == netlab::http::Framing::kChunked;
  toHead_ = h.method == "HEAD";
  client10_ = h.versionMinor == 0;
  closeAfter_ = !h.keepAlive;
  acceptsGzip_ = protocol_.gzip().on && acceptsGzip(h);
  if (refused(h)) return;
  if (h.method == "CONNECT") {
    openTunnel(h);
    return;
  }
  bool bodyless = h.framing == netlab::http::Framing::kNone ||
                  (h.framing == netlab::http::Framing::kLength && h.contentLength == 0);
  retryable_ = bodyless && idempotent(h.method);
  pendingMethod_ = std::string(h.method);
  tried_.assign(protocol_.upstreams().size(), false);
  if (consultCache(h)) return;
  startAttempt(false);
}

// RFC 9110 §9.3.6: the target is host:port; the proxy answers 2xx once its connection to it
// is open, and from then on relays bytes both ways until either side closes. The client is
// not read meanwhile, so what it sends early (a TLS hello) waits in its input.
void ClientSide::openTunnel(const netlab::http::Head& h) {
  auto target = parseTarget(h.target);
  if (!target.ok() || h.target.front() == ':' || h.framing != netlab::http::Framing::kNone) {
    answerError(400, "CONNECT needs a host:port target and no body", false);
    return;
  }
  auto [host, port] = target.value();
  if (!connectAllowed(protocol_.connectAllow(), host, port)) {
    protocol_.countDenied();
    answerError(403, "CONNECT to " + std::string(h.target) + " is not allowed", false);
    return;
  }
  note_.upstreamStarted(h.target, nowNs());
  tunnel_ = std::make_unique<RelayEnd>(std::make_shared<RelayPair>(), RelayEnd::Side::kClient);
  tunnel_->attach(conn_);
  waitingOpen_ = true;
  updateReading();
  RelayTarget::Hooks hooks{[this](Conn&) { tunnelOpen(); },
                           [this](Conn&, const CloseReason& reason) { tunnelFailed(reason); }};
  conn_->connect(host, port, protocol_.options().connectTimeoutSec,
                 std::make_unique<RelayTarget>(tunnel_->pair(), std::move(hooks)));
}

void ClientSide::tunnelOpen() {
  protocol_.countTunnel();
  protocol_.countResponse(200);
  note_.status(200);
  conn_->send("HTTP/1.1 200 Connection Established\r\n\r\n");
  tunneling_ = true;
  waitingOpen_ = false;
  updateReading();
  if (input_ && !input_->empty()) tunnel_->onData(*conn_, *input_);
  if (peerDone_) tunnel_->onEof(*conn_);
}

void ClientSide::tunnelFailed(const CloseReason& reason) {
  tunnel_.reset();
  waitingOpen_ = false;
  protocol_.countFailure();
  answerError(statusFor(reason),
              "tunnel target unavailable: " + std::string(closeKindName(reason.kind)), false);
}

// The configuration's deny rules (403) and the client's request rate (429, with Retry-After
// in whole seconds, rounded up as RFC 9110 §10.2.3 takes only those).
bool ClientSide::refused(const netlab::http::Head& h) {
  auto [path, query] = apps::http::splitTarget(h.target);
  if (const DenyRule* rule = deniedBy(protocol_.denyRules(), h.method, path, ip_)) {
    protocol_.countDenied();
    answerError(403, "denied by rule: " + rule->text, false);
    return true;
  }
  double retryAfter = 0;
  RateLimiter& limiter = protocol_.rateLimiter();
  if (limiter.enabled() && !limiter.admit(ip_, nowNs(), retryAfter)) {
    protocol_.countRateLimited();
    std::string extra =
        "Retry-After: " + std::to_string(static_cast<int64_t>(retryAfter) + 1) + "\r\n";
    answerError(429, "too many requests from " + ip_, false, extra);
    return true;
  }
  return false;
}

// Sends the request head to the next upstream: on a pooled connection at once, else once a new
// one has connected (the client is not read meanwhile, so no body byte is forwarded early).
void ClientSide::startAttempt(bool freshConnection) {
  releaseUpstream();
  upstreamDeadline_.clear();
  int i = protocol_.upstreams().pick(tried_, nowNs());
  if (i < 0) {
    answerError(502, "no upstream left to try", false);
    return;
  }
  upstream_ = i;
  tried_[static_cast<size_t>(i)] = true;
  protocol_.countRequest(static_cast<size_t>(i));
  const UpstreamAddress& to = protocol_.upstreams().address(static_cast<size_t>(i));
  note_.upstreamStarted(to.name, nowNs());
  pendingHead_.clear();
  appendUpstreamRequest(pendingHead_, parser_.head(), ip_, to.name,
                        stale_ ? revalidationEdits() : protocol_.headerEdits());
  UpstreamSide* pooled = freshConnection ? nullptr : pool_->take(static_cast<size_t>(i));
  reused_ = pooled != nullptr;
  if (!pooled) {
    waitingOpen_ = true;
    updateReading();
    connectUpstream();
    return;
  }
  protocol_.countReuse();
  pooled->attach(link_);
  if (clientFull_) link_->upstreamConn->pauseReading();
  pooled->expectResponseTo(pendingMethod_);
  link_->upstreamConn->send(pendingHead_);
  armTimer();
}

void ClientSide::connectUpstream() {
  protocol_.countConnect();
  const UpstreamAddress& to = protocol_.upstreams().address(static_cast<size_t>(upstream_));
  auto upstream = std::make_unique<UpstreamSide>(link_, netlab::http::limitsOf(protocol_.options()),
                                                 pool_, static_cast<size_t>(upstream_));
  conn_->connect(to.host, to.port, protocol_.options().connectTimeoutSec, std::move(upstream));
}

void ClientSide::releaseUpstream() {
  if (upstream_ < 0) return;
  protocol_.upstreams().release(static_cast<size_t>(upstream_));
  upstream_ = -1;
}

Conn* ClientSide::detachUpstream() {
  Conn* up = link_->upstreamConn;
  link_->upstream = nullptr;
  link_->upstreamConn = nullptr;
  upstreamFull_ = false;  // a queue that is gone is not full
  updateReading();
  return up;
}

void ClientSide::upstreamOpen(Conn& upstream) {
  if (!waitingOpen_) return;
  if (clientFull_) upstream.pauseReading();
  link_->upstream->expectResponseTo(pendingMethod_);
  upstream.send(pendingHead_);
  waitingOpen_ = false;
  armTimer();
  continueRequest();
}

// The rest of the request (its body, or just its end: a GET's end needs no more bytes) is read
// now; no new bytes may come to prompt it.
void ClientSide::continueRequest() {
  updateReading();
  if (!inOnData_ && input_) loop(*conn_, *input_);
}

void ClientSide::forwardBody(std::string_view piece) {
  Conn* up = link_->upstreamConn;
  if (!up) return;
  armTimer();  // an upload in progress is not a silent upstream
  if (!chunkedRequest_) {
    up->send(piece);
    return;
  }
  scratch_.clear();
  appendChunk(scratch_, piece);
  up->send(scratch_);
}

void ClientSide::requestDone() {
  inRequest_ = false;
  if (chunkedRequest_ && link_->upstreamConn) link_->upstreamConn->send(kLastChunk);
  if (!exchanging_) return;           // the response came first and is already done
  if (!responseStarted_) armTimer();  // the wait for the response starts now
  waitingResponse_ = true;
  updateReading();
}

bool ClientSide::responseHead(const netlab::http::Head& head) {
  if (!exchanging_ || responseStarted_) return false;
  armTimer();
  answered_ = true;  // any byte of an answer: the request may have had effects
  if (head.informational()) {
    if (head.status == 100 && !client10_) conn_->send("HTTP/1.1 100 Continue\r\n\r\n");
    return true;
  }
  responseStarted_ = true;
  if (upstream_ >= 0) protocol_.upstreams().succeeded(static_cast<size_t>(upstream_));
  // An answer before the whole request was sent: the connection cannot carry another.
  if (inRequest_) closeAfter_ = true;
  if (ResponseCache* cache = protocol_.cache()) {
    if (stale_ && head.status == 304) {  // answered from the entry once the 304 has ended
      refreshStale(head);
      swallow_ = true;
      return true;
    }
    if (!cacheKey_.empty()) cache->counts().misses.fetch_add(1, std::memory_order_relaxed);
    beginFill(head);
    bool safe = toHead_ || pendingMethod_ == "GET" || pendingMethod_ == "OPTIONS";
    if (!safe && head.status < 400) cache->invalidate(cacheKey(parser_.head()));
  }
  std::string extra;
  if (xCache_) ((extra += "X-Cache: ") += xCache_) += "\r\n";
  sendResponseHead(head, extra, /*mayGzip=*/true);
  return true;
}

// The client's response head, the upstream's or a stored one, compressed on the way when
// gzip applies to it: framing_ says how its body follows.
void ClientSide::sendResponseHead(const netlab::http::Head& head, const std::string& extra,
                                  bool mayGzip) {
  bool gzip = mayGzip && shouldGzip(protocol_.gzip(), acceptsGzip_, toHead_, head) &&
              gzip_.begin(protocol_.gzip().level, head.contentLength);
  if (gzip) protocol_.countGzipped();
  scratch_.clear();
  framing_ = appendClientResponse(scratch_, head, toHead_, client10_, closeAfter_, gzip, extra);
  if (framing_ == ClientFraming::kUntilClose) closeAfter_ = true;
  conn_->send(scratch_);
  protocol_.countResponse(head.status);
  note_.status(head.status);
}

void ClientSide::responseBody(std::string_view piece) {
  if (!responseStarted_) return;
  armTimer();
  if (swallow_) return;
  fillBody(piece);
  if (gzip_.active()) {
    compressed_.clear();
    if (!gzip_.compress(piece, compressed_)) {
      upstreamFailed({CloseKind::kLocalClose, 0, "gzip failed"}, true);
      return;
    }
    piece = compressed_;
  }
  sendBody(piece);
  // nginx's proxy_buffers: only so much of a response waits in the proxy for a slow client;
  // past it the upstream is not read, and the socket buffers hold the rest. The server's
  // high-water mark (1 MiB by default) would let 100 slow downloads hold over 100 MiB.
  if (!clientFull_ && conn_->queuedOutput() >= kClientBuffer) onHighWater(*conn_, 0);
}

// The upstream's bytes of this read are all handled: what gzip kept back goes out now.
void ClientSide::upstreamReadDone() {
  if (!gzip_.active()) return;
  compressed_.clear();
  if (!gzip_.flush(compressed_)) {
    upstreamFailed({CloseKind::kLocalClose, 0, "gzip failed"}, true);
    return;
  }
  sendBody(compressed_);
}

// The response as the client gets it: counted for the log, framed as its head said.
void ClientSide::sendBody(std::string_view piece) {
  note_.body(piece.size());
  if (framing_ != ClientFraming::kChunked) {
    conn_->send(piece);
  } else {
    scratch_.clear();
    appendChunk(scratch_, piece);
    conn_->send(scratch_);
  }
}

void ClientSide::upstreamFinished(bool upstreamCloses) {
  if (!responseStarted_) return;
  if (swallow_) {
    upstreamRevalidated(upstreamCloses);
    return;
  }
  endFill();
  if (gzip_.active()) {
    compressed_.clear();
    bool ok = gzip_.finish(compressed_);
    if (ok) sendBody(compressed_);
    compressed_ = std::string();  // a large body's buffer is not kept between exchanges
    if (!ok) {
      upstreamFailed({CloseKind::kLocalClose, 0, "gzip failed"}, true);
      return;
    }
  }
  if (framing_ == ClientFraming::kChunked) conn_->send(kLastChunk);
  parkUpstream(upstreamCloses);
  finishExchange();
}

// The upstream's response has ended: its connection goes back to the pool, or is closed.
void ClientSide::parkUpstream(bool upstreamCloses) {
  // An answer before the whole request was sent (an early 413, say): the rest of the
  // request cannot follow on this upstream connection, nor the client's next one.
  if (inRequest_) closeAfter_ = upstreamCloses = true;
  UpstreamSide* side = link_->upstream;
  // No longer this client's either way: its close is not a failure.
  if (Conn* up = detachUpstream()) {
    if (upstreamCloses || !side->park()) up->closeAfterFlush();
  }
}

// The upstream's 304 to a revalidation has ended: the client gets the refreshed entry.
void ClientSide::upstreamRevalidated(bool upstreamCloses) {
  swallow_ = false;
  parkUpstream(upstreamCloses);
  std::shared_ptr<const StoredResponse> entry = stale_;
  serveStored(*entry, "REVALIDATED");
}

void ClientSide::finishExchange() {
  endCacheExchange();
  gzip_.end();
  logExchange();
  releaseUpstream();
  exchanging_ = responseStarted_ = false;
  waitingResponse_ = false;
  upstreamDeadline_.clear();
  if (closeAfter_) {
    closing_ = true;
    conn_->closeAfterFlush();
    return;
  }
  updateReading();
  // After a half-close no read will come to prompt what is held: answer it now.
  if (peerDone_ && !inOnData_ && input_) loop(*conn_, *input_);
}

void ClientSide::upstreamFailed(const CloseReason& reason, bool opened) {
  Conn* up = detachUpstream();
  if (up) up->close({CloseKind::kLocalClose, 0, "upstream failed"});
  if (!exchanging_) return;
  if (retry(reason, opened)) return;
  protocol_.countFailure();
  if (responseStarted_) {
    closing_ = true;
    logExchange();
    conn_->close(reason);  // mid-body: the client must see the response cut short
    return;
  }
  std::string why = std::string(opened ? "upstream failed: " : "upstream unavailable: ") +
                    std::string(closeKindName(reason.kind));
  answerError(statusFor(reason), why, false);
}

// nginx's proxy_next_upstream (error, timeout): a connection that failed to open sent nothing,
// so any request goes to the next untried upstream; one that died before any byte of an
// answer is tried once more, on a new connection, if the request is idempotent and bodiless.
// A pooled connection the upstream had closed in the meantime is not the upstream's failure.
bool ClientSide::retry(const CloseReason& reason, bool opened) {
  if (upstream_ < 0 || answered_) return false;
  // Not the upstream's doing: the server stops, or this host is out of descriptors or ports.
  if (reason.kind == CloseKind::kServerStopping || reason.kind == CloseKind::kNoFds ||
      reason.kind == CloseKind::kNoPorts) {
    return false;
  }
  bool stale = opened && reused_ && statusFor(reason) == 502;
  if (!stale) protocol_.upstreams().failed(static_cast<size_t>(upstream_), nowNs());
  if (opened && (!retryable_ || retried_)) return false;
  if (stale) tried_[static_cast<size_t>(upstream_)] = false;  // the upstream may be fine
  if (std::find(tried_.begin(), tried_.end(), false) == tried_.end()) return false;
  retried_ = retried_ || opened;
  protocol_.countRetry();
  // Reading stays paused (waitingResponse_ holds if the request had ended) until it opens.
  startAttempt(/*freshConnection=*/true);
  return true;
}

void ClientSide::upstreamBackedUp(bool full) {
  upstreamFull_ = full;
  updateReading();
  if (!full && peerDone_ && !inOnData_ && input_) loop(*conn_, *input_);
}

// The status and a short body, then a close: the request's body may be half read. A
// protocol error is counted as one (Conn::fail), the rest close as a local decision.
void ClientSide::answerError(int status, std::string_view why, bool protocolError,
                             std::string_view extraFields) {
  if (Conn* up = detachUpstream()) up->close({CloseKind::kLocalClose, 0, "exchange failed"});
  releaseUpstream();
  scratch_.clear();
  std::string body = std::string(why) + "\n";
  apps::http::appendHead(scratch_, {status, "text/plain", static_cast<int64_t>(body.size()),
                                    /*close=*/true, false, extraFields});
  if (!toHead_) scratch_ += body;
  conn_->send(scratch_);
  protocol_.countResponse(status);
  note_.status(status);
  if (!toHead_) note_.body(body.size());
  if (!protocolError) {
    closeAfter_ = true;
    finishExchange();
    return;
  }
  closing_ = true;
  exchanging_ = responseStarted_ = waitingResponse_ = false;
  upstreamDeadline_.clear();
  logExchange();
  conn_->fail(why);
}

void ClientSide::failParse() {
  const netlab::http::ParseError& error = parser_.error();
  if (responseStarted_) {
    closing_ = true;
    logExchange();
    if (Conn* up = detachUpstream()) up->close({CloseKind::kLocalClose, 0, "client failed"});
    conn_->close({CloseKind::kProtocolError, 0, std::string(error.reason)});
    return;
  }
  if (!inRequest_) {  // no head was read: not the previous request's
    toHead_ = false;
    note_.begin(nullptr, nowNs());
  }
  exchanging_ = true;
  answerError(error.status, error.reason, true);
}

// nginx's proxy_read_timeout: the time allowed between two reads from the upstream (and for
// the first one after the request is sent).
void ClientSide::armTimer() {
  upstreamDeadline_.set(*conn_,
                        waitingFetch_ ? kCacheLockSec : protocol_.options().upstreamTimeoutSec);
}

void ClientSide::onTimeout() {
  if (waitingFetch_) {
    stopWaitingForFetch();
    return;
  }
  if (!exchanging_) return;
  upstreamFailed({CloseKind::kMessageTimeout, 0, "upstream timed out"}, true);
}

void ClientSide::logExchange() {
  if (!note_.open()) return;
  thread_local std::string line;
  line.clear();
  note_.finish(line, ip_, nowNs());
  protocol_.logAccess(line);
}

void ClientSide::updateReading() {
  bool read = !(waitingOpen_ || waitingResponse_ || upstreamFull_);
  if (read == !paused_) return;
  paused_ = !read;
  if (paused_) {
    conn_->pauseReading();
  } else {
    conn_->resumeReading();
  }
}

bool ClientSide::onEof(Conn& conn) {
  peerDone_ = true;
  if (tunneling_) return tunnel_->onEof(conn);
  // A request cut short by the half-close is found at once, not at the upstream timeout.
  if (inRequest_ && !waitingOpen_ && !upstreamFull_ && !inOnData_ && input_) loop(conn, *input_);
  return exchanging_ && !closing_;  // the response in progress is still delivered
}

// The client's queue decides whether the upstream is read: a slow client slows the upstream,
// and the time it takes to read is not the upstream's silence.
void ClientSide::onDrained(Conn& conn) {
  if (tunneling_) return tunnel_->onDrained(conn);
  clientFull_ = false;
  if (Conn* up = link_->upstreamConn) up->resumeReading();
  if (exchanging_ && responseStarted_) armTimer();
}

void ClientSide::onHighWater(Conn& conn, size_t queued) {
  if (tunneling_) return tunnel_->onHighWater(conn, queued);
  clientFull_ = true;
  if (Conn* up = link_->upstreamConn) up->pauseReading();
  upstreamDeadline_.clear();
}

void ClientSide::onClose(Conn& conn, const CloseReason& reason) {
  logExchange();  // one cut short: by the client (499 if nothing was answered) or a tunnel's end
  endCacheExchange();  // a response cut short is not stored; whoever waited for it goes on
  if (tunnel_) tunnel_->onClose(conn, reason);
  releaseUpstream();
  // This thread's pool is this client's alone, and would keep the thread alive.
  if (pool_ && conn.threadPerClient()) pool_->closeAll();
  link_->client = nullptr;
  Conn* up = link_->upstreamConn;
  link_->upstream = nullptr;
  link_->upstreamConn = nullptr;
  if (!up) return;
  if (exchanging_) {
    up->close({CloseKind::kLocalClose, 0, "client gone"});
  } else {
    up->closeAfterFlush();
  }
}

}  // namespace netlab::apps::proxy
