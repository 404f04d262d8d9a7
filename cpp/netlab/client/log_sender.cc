#include "netlab/client/log_sender.h"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlab/io/clock.h"
#include "netlab/io/socket.h"

namespace netlab {
namespace {

constexpr size_t kMaxOutput = 1 << 20;   // written ahead of the socket, at most
constexpr size_t kMaxAnswer = 64 << 10;  // an answer line longer than this is a broken peer
constexpr uint8_t kBinaryVersion = 1;    // LogServer's binary ingest (ingest_handler.h)
constexpr uint8_t kCommandLog = 1, kCommandClient = 5;
constexpr size_t kMaxBinaryMessage = 65535 - 7;

int64_t toNs(double sec) { return static_cast<int64_t>(sec * 1e9); }

}  // namespace

std::string Upstream::text() const {
  bool v6 = host.find(':') != std::string::npos;
  return protocol + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<std::vector<Upstream>> parseUpstreams(std::string_view spec,
                                             std::string_view defaultProtocol) {
  std::vector<Upstream> out;
  size_t at = 0;
  while (at < spec.size()) {
    size_t end = spec.find_first_of(" ,", at);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view item = spec.substr(at, end - at);
    at = end + 1;
    if (item.empty()) continue;
    auto bad = [&](const char* why) {
      return Error{EINVAL, "upstream '" + std::string(item) + "': " + why};
    };
    Upstream u;
    size_t scheme = item.find("://");
    u.protocol = scheme == std::string_view::npos ? std::string(defaultProtocol)
                                                  : std::string(item.substr(0, scheme));
    if (u.protocol != "logs" && u.protocol != "binary" && u.protocol != "syslog")
      return bad("the protocol is logs, binary or syslog");
    std::string_view rest = scheme == std::string_view::npos ? item : item.substr(scheme + 3);
    size_t atSign = rest.rfind('@');
    if (atSign != std::string_view::npos) {
      u.token = std::string(rest.substr(0, atSign));
      rest.remove_prefix(atSign + 1);
    }
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == rest.size()) return bad("no port");
    std::string_view host = rest.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    if (host.empty()) return bad("no host");
    int port = 0;
    for (char c : rest.substr(colon + 1)) {
      if (c < '0' || c > '9' || (port = port * 10 + (c - '0')) > 65535) return bad("bad port");
    }
    if (port == 0) return bad("bad port");
    u.host = std::string(host);
    u.port = static_cast<uint16_t>(port);
    out.push_back(std::move(u));
  }
  if (out.empty()) return Error{EINVAL, "no upstream server given"};
  return out;
}

LogSender::LogSender(LogSenderOptions options, Source source, int64_t position)
    : options_(std::move(options)),
      source_(std::move(source)),
      confirmed_(position),
      sentUpTo_(position),
      highestSent_(position) {
  backoffSec_ = options_.backoffMinSec;
  stats_.position = position;
}

LogSender::~LogSender() = default;

void LogSender::turn(int wakeFd, int waitMs) {
  int64_t now = nowNs();
  if (!fd_.valid() && now >= retryAtNs_) connect();
  // Fill and write until the window or the socket is full (syslog's window frees as the
  // socket takes the bytes), a bounded number of rounds per turn.
  for (int round = 0; round < 64 && fd_.valid() && handshake_ == 0; ++round) {
    uint64_t before = stats_.sent;
    fill();
    if (!out_.empty()) writeOut();
    if (stats_.sent == before || !out_.empty()) break;
  }
  if (fd_.valid() && !out_.empty()) writeOut();

  pollfd p[2];
  int n = 0;
  if (fd_.valid())
    p[n++] = {fd_.get(), static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0};
  if (wakeFd >= 0) p[n++] = {wakeFd, POLLIN, 0};
  int rc = ::poll(p, static_cast<nfds_t>(n), pollTimeoutMs(waitMs, now));
  if (rc < 0 && errno != EINTR) {
    stats_.lastError = std::string("poll: ") + std::strerror(errno);
    return;
  }
  if (wakeFd >= 0 && (p[n - 1].revents & POLLIN)) {
    uint64_t count;
    [[maybe_unused]] ssize_t r = ::read(wakeFd, &count, sizeof count);
  }
  if (fd_.valid() && p[0].revents) {
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) readIn();
    if (fd_.valid() && (p[0].revents & POLLOUT)) writeOut();
  }
  now = nowNs();
  if (!fd_.valid()) return;
  if (options_.upstreams[current_].protocol == "syslog") {
    settleSyslog(now);
  } else if ((!inflight_.empty() || handshake_ > 0) &&
             now - lastProgressNs_ > toNs(options_.timeoutSec)) {
    drop("no answer for " + std::to_string(static_cast<int>(options_.timeoutSec)) + " s");
  }
}

// Sleeps no longer than the next thing due: a reconnect, a syslog settle check.
int LogSender::pollTimeoutMs(int waitMs, int64_t now) const {
  int64_t ms = waitMs;
  if (!fd_.valid()) ms = std::min<int64_t>(ms, std::max<int64_t>(0, (retryAtNs_ - now) / 1000000));
  if (fd_.valid() && (!inflight_.empty() || !settling_.empty())) ms = std::min<int64_t>(ms, 50);
  return static_cast<int>(std::max<int64_t>(ms, 0));
}

// One upstream per call: a refusal moves to the next; after a whole round of refusals the
// next round waits, twice as long each time (up to backoffMax).
void LogSender::nextUpstream() {
  current_ = (current_ + 1) % options_.upstreams.size();
  if (++triedThisRound_ >= options_.upstreams.size()) {
    triedThisRound_ = 0;
    retryAtNs_ = nowNs() + toNs(backoffSec_);
    backoffSec_ = std::min(backoffSec_ * 2, options_.backoffMaxSec);
  }
}

// The upstream took something: a connection that breaks from now on is a hiccup of a good
// upstream (reconnect to it at once), not a refusal (move on, back off).
void LogSender::proven() {
  if (proven_) return;
  proven_ = true;
  triedThisRound_ = 0;
  backoffSec_ = options_.backoffMinSec;
}

bool LogSender::connect() {
  const Upstream& u = options_.upstreams[current_];
  auto fd = connectTcp(u.host, u.port, static_cast<int>(std::min(options_.timeoutSec, 5.0) * 1000));
  Status nb = fd.ok() ? setNonBlocking(fd.value().get(), true) : Status(fd.error());
  if (!nb.ok()) {
    ++stats_.connectFailures;
    stats_.lastError = u.text() + ": " + nb.error().message;
    nextUpstream();
    return false;
  }
  fd_ = std::move(fd.value());
  setNoDelay(fd_.get());
  ignoreSigpipeOnce();
  ++stats_.connects;
  if (lastConnected_ >= 0 && lastConnected_ != static_cast<int>(current_)) ++stats_.failovers;
  lastConnected_ = static_cast<int>(current_);
  stats_.active = lastConnected_;
  bytesSent_ = 0;
  sentUpTo_ = confirmed_;  // the unconfirmed are sent again
  lastProgressNs_ = nowNs();
  handshake_ = 0;
  if (u.protocol == "logs") {
    if (!u.token.empty()) {
      out_ += "AUTH|" + u.token + "\n";
      ++handshake_;
    }
    out_ += "CLIENT|" + options_.clientId + "\n";
    ++handshake_;
  } else if (u.protocol == "binary") {
    if (!frames_) frames_ = makeHeaderCodec(kBinaryVersion, 65535, nullptr);
    FrameError unused;
    frames_->encode(FrameView{options_.clientId, kBinaryVersion, kCommandClient, 0}, out_, unused);
    ++handshake_;
  }
  return true;
}

// The window bounds the records an answer is awaited for; syslog has no answer, and what its
// peer's kernel holds is bounded by the socket buffer: there it bounds the records not yet
// written to the socket.
size_t LogSender::awaited() const {
  if (options_.upstreams[current_].protocol != "syslog") return inflight_.size();
  size_t unwritten = 0;
  for (auto it = inflight_.rbegin(); it != inflight_.rend() && it->endOffset > bytesSent_; ++it)
    ++unwritten;
  return unwritten;
}

void LogSender::fill() {
  while (awaited() < options_.window && out_.size() < kMaxOutput) {
    size_t room = options_.window - awaited();
    std::vector<logs::LogRecord> batch = source_(sentUpTo_, std::min<size_t>(room, 1000));
    if (batch.empty()) return;
    for (const logs::LogRecord& r : batch) encode(r);
  }
}

void LogSender::encode(const logs::LogRecord& r) {
  const std::string& protocol = options_.upstreams[current_].protocol;
  if (protocol == "logs") {
    out_ += logs::keyedLine(r, r.seq);
  } else if (protocol == "binary") {
    std::string payload(7, '\0');
    std::string_view message = std::string_view(r.message).substr(0, kMaxBinaryMessage);
    uint32_t seconds = static_cast<uint32_t>(std::max<int64_t>(0, r.timeMs / 1000));
    payload[0] = static_cast<char>(r.level);
    for (int i = 0; i < 4; ++i) payload[1 + i] = static_cast<char>(seconds >> (24 - 8 * i));
    payload[5] = static_cast<char>(message.size() >> 8);
    payload[6] = static_cast<char>(message.size() & 0xff);
    payload += message;
    FrameError unused;
    frames_->encode(FrameView{payload, kBinaryVersion, kCommandLog, static_cast<uint32_t>(r.seq)},
                    out_, unused);
  } else {
    std::string message = logs::rfc5424(r);
    out_ += std::to_string(message.size());
    out_ += ' ';
    out_ += message;
  }
  if (inflight_.empty()) lastProgressNs_ = nowNs();  // the answer is due from now on
  if (r.seq <= highestSent_) ++stats_.resent;
  highestSent_ = std::max(highestSent_, r.seq);
  sentUpTo_ = r.seq;
  ++stats_.sent;
  inflight_.push_back({r.seq, bytesSent_ + out_.size(), 0});
}

void LogSender::writeOut() {
  while (!out_.empty()) {
    ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out_.erase(0, static_cast<size_t>(n));
      bytesSent_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    return drop(std::string("send: ") + std::strerror(errno));
  }
}

void LogSender::readIn() {
  char buf[16 << 10];
  bool closed = false;
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) return drop(std::string("recv: ") + std::strerror(errno));
    if (n == 0) {  // what it said before closing may say why (ERROR|bad token)
      closed = true;
      break;
    }
    if (options_.upstreams[current_].protocol == "syslog") continue;  // it has nothing to say
    in_.append(buf, static_cast<size_t>(n));
    if (in_.size() > kMaxAnswer + (kMaxAnswer >> 1)) break;
  }
  const std::string& protocol = options_.upstreams[current_].protocol;
  if (protocol == "syslog") {
    if (closed) drop("the upstream closed the connection");
    return;
  }
  size_t used = 0;
  while (fd_.valid()) {
    if (protocol == "logs") {
      size_t nl = in_.find('\n', used);
      if (nl == std::string::npos) break;
      std::string_view line(in_.data() + used, nl - used);
      used = nl + 1;
      if (handshake_ > 0) {
        if (line.substr(0, 3) != "OK|") return drop("the upstream refused: " + std::string(line));
        --handshake_;
        lastProgressNs_ = nowNs();
        continue;
      }
      std::string text(line);
      if (text.rfind("ERROR|store failed", 0) == 0) return drop("the upstream could not store");
      answer(text.rfind("OK|", 0) == 0);
      if (fd_.valid() && text.rfind("ERROR|", 0) == 0) stats_.lastError = "upstream: " + text;
    } else {
      FrameView f;
      ParseResult r = frames_->parse(std::string_view(in_).substr(used), 0, f);
      if (r.status == ParseResult::kNeedMore) break;
      if (r.status == ParseResult::kError) return drop("bad answer: " + r.error.message);
      used += r.consumed;
      if (f.command != kCommandLog && f.command != kCommandClient) continue;  // nothing we sent
      // An answer's payload is a status byte (0: OK) and the reason for a refusal.
      if (f.payload.empty()) return drop("bad answer: a frame without a status byte");
      bool ok = f.payload[0] == 0;
      if (handshake_ > 0 && f.command == kCommandClient) {
        if (!ok) return drop("the upstream refused the client id");
        --handshake_;
        lastProgressNs_ = nowNs();
        continue;
      }
      if (!ok && f.payload.substr(1) == "store failed") return drop("the upstream could not store");
      if (f.command == kCommandLog) answer(ok);
    }
  }
  if (!fd_.valid()) return;
  in_.erase(0, used);
  if (closed) return drop("the upstream closed the connection");
  if (in_.size() > kMaxAnswer) drop("an answer longer than 64 KiB");
}

// An answer confirms the oldest record in flight: answers come in order. A refused record
// (ERROR) is not sent again, since it would be refused again; it is counted.
void LogSender::answer(bool ok) {
  if (inflight_.empty()) return drop("an answer for nothing sent");
  confirmed_ = inflight_.front().key;
  inflight_.pop_front();
  ++stats_.confirmed;
  if (!ok) ++stats_.rejected;
  stats_.position = confirmed_;
  lastProgressNs_ = nowNs();
  proven();
}

// TCP's acknowledgement moves messages from inflight_ to settling_ (a batch per turn, so the
// window bounds only what the peer's kernel has not taken); `settle` later they count.
void LogSender::settleSyslog(int64_t now) {
  int unacked = 0;
  if (::ioctl(fd_.get(), SIOCOUTQ, &unacked) != 0) unacked = 0;  // best effort: as written
  uint64_t acked = bytesSent_ - std::min<uint64_t>(bytesSent_, static_cast<uint64_t>(unacked));
  if (acked > ackedBytes_) {
    ackedBytes_ = acked;
    lastProgressNs_ = now;
    proven();
  }
  Settling batch{-1, now, 0};
  while (!inflight_.empty() && inflight_.front().endOffset <= acked) {
    batch.key = inflight_.front().key;
    ++batch.count;
    inflight_.pop_front();
  }
  if (batch.count > 0) settling_.push_back(batch);
  while (!settling_.empty() && now - settling_.front().ackedAt >= toNs(options_.settleSec)) {
    confirmed_ = settling_.front().key;
    stats_.confirmed += settling_.front().count;
    stats_.position = confirmed_;
    settling_.pop_front();
  }
  if (!inflight_.empty() && now - lastProgressNs_ > toNs(options_.timeoutSec)) {
    drop("the upstream has read nothing for " +
         std::to_string(static_cast<int>(options_.timeoutSec)) + " s");
  }
}

void LogSender::drop(const std::string& why) {
  stats_.lastError = options_.upstreams[current_].text() + ": " + why;
  bool wasProven = proven_;
  closeConnection();
  ++stats_.disconnects;
  if (wasProven) {
    retryAtNs_ = nowNs() + toNs(options_.backoffMinSec);
  } else {
    nextUpstream();  // refused after the connect (full, bad token, silent): try the next one
  }
}

void LogSender::closeConnection() {
  fd_.reset();
  stats_.active = -1;
  inflight_.clear();
  settling_.clear();
  out_.clear();
  in_.clear();
  handshake_ = 0;
  ackedBytes_ = 0;
  proven_ = false;
  sentUpTo_ = confirmed_;
}

Result<std::unique_ptr<LogSenderThread>> LogSenderThread::start(LogSenderOptions options,
                                                                LogSender::Source source,
                                                                int64_t position,
                                                                AfterTurn afterTurn) {
  if (options.upstreams.empty()) return Error{EINVAL, "no upstream server given"};
  Fd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) return sysError("eventfd");
  auto sender = std::make_unique<LogSender>(std::move(options), std::move(source), position);
  return std::unique_ptr<LogSenderThread>(
      new LogSenderThread(std::move(wake), std::move(sender), std::move(afterTurn)));
}

LogSenderThread::LogSenderThread(Fd wakeFd, std::unique_ptr<LogSender> sender, AfterTurn afterTurn)
    : wakeFd_(std::move(wakeFd)), sender_(std::move(sender)), afterTurn_(std::move(afterTurn)) {
  stats_ = sender_->stats();
  thread_ = std::thread([this] { run(); });
}

LogSenderThread::~LogSenderThread() { stop(); }

void LogSenderThread::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeFd_.get(), &one, sizeof one);
}

void LogSenderThread::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
}

void LogSenderThread::run() {
  while (!stopping_.load(std::memory_order_relaxed)) {
    sender_->turn(wakeFd_.get(), 200);
    if (afterTurn_) afterTurn_(*sender_);  // before waitFor() hears of the progress
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_ = sender_->stats();
    }
    progressed_.notify_all();
  }
  sender_->closeConnection();
}

LogSender::Stats LogSenderThread::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

bool LogSenderThread::waitFor(int64_t key, double timeoutSec) {
  std::unique_lock<std::mutex> lock(mutex_);
  return progressed_.wait_for(lock, boundedWait(timeoutSec),
                              [&] { return stats_.position >= key; });
}

}  // namespace netlab
