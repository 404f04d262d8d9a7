#include "netlab/models/threaded_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <utility>

#include "netlab/io/acceptor.h"
#include "netlab/io/clock.h"
#include "netlab/io/memory.h"
#include "netlab/io/socket.h"

namespace netlab {

/// One blocking connection and the thread body that serves it. Messages from other threads
/// (chat relays) go through a bounded queue and a writer thread started on first use, so a
/// slow reader blocks only its own writer, never the member who spoke.
class ThreadedServer::ConnThread final : public Conn,
                                         public std::enable_shared_from_this<ConnThread> {
 public:
  ConnThread(ThreadedServer& server, Fd fd, uint64_t id, std::string address,
             std::unique_ptr<Handler> handler)
      : server_(server),
        counters_(*server.counters_[0]),
        fd_(std::move(fd)),
        id_(id),
        address_(std::move(address)),
        peer_(peerName(fd_.get())),
        handler_(std::move(handler)),
        queueLimit_(server.protocol_->maxQueuedOutput()) {}

  void run();
  /// From stop() or a slow-consumer drop: wakes the blocked read or write.
  void interrupt() {
    std::lock_guard<std::mutex> lock(fdMutex_);
    if (fd_.valid()) ::shutdown(fd_.get(), SHUT_RDWR);
  }
  /// Called through the Outlet from any thread.
  bool enqueue(std::string_view data);

  void send(std::string_view data) override {
    if (midMessage_.load(std::memory_order_acquire)) waitForWriter();
    Counters::bump(counters_.messagesOut);
    writeAll(data);
  }
  void closeAfterFlush() override { closing_ = true; }
  void fail(std::string_view reason) override {
    Counters::bump(counters_.errors);
    if (server_.log_.enabled())
      server_.log_.add("error #" + std::to_string(id_) + ": " + std::string(reason));
    closing_ = true;
  }
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }
  std::shared_ptr<Outlet> outlet() override;
  // A blocking write is this model's pacing: the thread handles every message in turn.
  bool budgetLeft() override { return !closing_; }

 private:
  class ThreadOutlet;

  bool readOnce(std::string& why, bool& isError);
  bool waitReadable(std::string& why);
  bool accountInput(size_t messages, std::string& why);
  bool startWriter();
  bool writeQueuedNow();
  void waitForWriter();
  bool writeAll(std::string_view data);
  void writerLoop();
  void stopWriter();
  void finish(std::string why, bool isError);

  ThreadedServer& server_;
  Counters& counters_;
  std::mutex fdMutex_;  // the fd is closed by this thread and shut down by others
  Fd fd_;
  uint64_t id_;
  std::string address_;  // the per-address slot held, if any
  std::string peer_;
  std::unique_ptr<Handler> handler_;
  Buffer input_;
  bool closing_ = false;
  int64_t lastReadNs_ = 0;
  int64_t partialSinceNs_ = 0;  // when the partial message at the front of input_ began
  int64_t heldInput_ = 0;       // this connection's share of the server's heldInput_
  std::thread::id owner_;

  std::mutex writeMutex_;  // one writer at a time on the socket
  std::atomic<bool> writeFailed_{false};
  std::string writeError_;  // read once the writer thread has been joined
  bool peerGone_ = false;

  size_t queueLimit_;
  std::mutex queueMutex_;
  std::condition_variable queueReady_;
  std::string queue_;
  bool writerBusy_ = false;  // the writer holds a batch taken from queue_
  // writeQueuedNow() left a message half written: this connection's own replies wait until
  // the writer has sent the rest (writerDone_), so they never cut into it.
  std::atomic<bool> midMessage_{false};
  std::condition_variable writerDone_;
  std::atomic<int64_t> lastWriteNs_{0};  // writes count as activity for the idle timeout
  int64_t queueSinceNs_ = 0;             // when the oldest byte in queue_ was queued
  static constexpr int64_t kStallNs = 500 * kNsPerMs;
  static constexpr size_t kWriteChunk = 64 << 10;
  static constexpr size_t kBehindFactor = 4;
  size_t queuedMessages_ = 0;
  bool queueClosed_ = false;
  std::string dropReason_;
  SmallThread writer_;
  std::shared_ptr<ThreadOutlet> outlet_;
};

class ThreadedServer::ConnThread::ThreadOutlet final : public Outlet {
 public:
  explicit ThreadOutlet(std::weak_ptr<ConnThread> conn) : conn_(std::move(conn)) {}
  bool deliver(std::string_view data) override {
    std::shared_ptr<ConnThread> conn = conn_.lock();
    return conn && conn->enqueue(data);
  }

 private:
  std::weak_ptr<ConnThread> conn_;
};

std::shared_ptr<Outlet> ThreadedServer::ConnThread::outlet() {
  std::lock_guard<std::mutex> lock(queueMutex_);
  if (!outlet_) outlet_ = std::make_shared<ThreadOutlet>(weak_from_this());
  return outlet_;
}

void ThreadedServer::ConnThread::run() {
  owner_ = std::this_thread::get_id();
  handler_->onOpen(*this);
  std::string why = "closed";
  bool isError = false;
  while (!closing_ && !writeFailed_ && readOnce(why, isError)) {
  }
  finish(why, isError);
}

// Returns false when the connection is done, with the reason in `why`.
bool ThreadedServer::ConnThread::readOnce(std::string& why, bool& isError) {
  if (!waitReadable(why)) {
    Counters::bump(counters_.timeouts);
    return false;
  }
  ssize_t n = input_.readFrom(fd_.get(), Buffer::kReadChunk);
  if (n > 0) {
    Counters::bump(counters_.bytesIn, n);
    size_t messages = handler_->onData(*this, input_);
    Counters::bump(counters_.messagesIn, messages);
    if (!accountInput(messages, why)) {
      isError = true;
      return false;
    }
    return true;
  }
  if (n == 0) {
    why = "closed";
    return false;
  }
  if (errno == EINTR || errno == EAGAIN) return true;
  why = std::string("read: ") + std::strerror(errno);
  isError = errno != ECONNRESET;  // a peer that resets ends its own connection
  return false;
}

// Waits for input no longer than the idle timeout and the partial message's deadline allow,
// so a silent client and one that drips bytes both free their thread.
bool ThreadedServer::ConnThread::waitReadable(std::string& why) {
  const ServerOptions& o = server_.options_;
  int64_t idleNs = static_cast<int64_t>(o.idleTimeoutSec * kNsPerSec);
  int64_t messageNs = static_cast<int64_t>(o.messageTimeoutSec * kNsPerSec);
  for (;;) {
    int64_t now = nowNs();
    if (lastReadNs_ == 0) lastReadNs_ = now;
    int64_t deadline = INT64_MAX;
    int64_t lastActive = std::max(lastReadNs_, lastWriteNs_.load(std::memory_order_relaxed));
    if (idleNs > 0) deadline = lastActive + idleNs;
    if (messageNs > 0 && partialSinceNs_ > 0)
      deadline = std::min(deadline, partialSinceNs_ + messageNs);
    int timeoutMs = -1;
    if (deadline != INT64_MAX) {
      if (now >= deadline) {
        why = partialSinceNs_ > 0 && messageNs > 0 && now >= partialSinceNs_ + messageNs
                  ? "message timeout: a message was still incomplete " +
                        std::to_string(messageNs / kNsPerMs) + " ms after its first byte"
                  : std::string("idle timeout");
        return false;
      }
      timeoutMs = static_cast<int>(std::min<int64_t>((deadline - now) / kNsPerMs + 1, 60'000));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, timeoutMs);
    if (rc > 0) {
      lastReadNs_ = nowNs();
      return true;
    }
    if (rc < 0 && errno != EINTR) return true;  // the read reports the error
  }
}

// The same bounds as the loop models: one partial message per connection, and the total
// held by all of them; the message clock starts with a partial message's first byte.
bool ThreadedServer::ConnThread::accountInput(size_t messages, std::string& why) {
  if (closing_) return true;
  size_t limit = server_.protocol_->maxPendingInput();
  if (input_.readable() > limit) {
    why = "over " + std::to_string(limit) + " bytes of unconsumed input";
    return false;
  }
  if (input_.empty()) {
    partialSinceNs_ = 0;
  } else if (messages > 0 || partialSinceNs_ == 0) {
    partialSinceNs_ = nowNs();
  }
  int64_t held = static_cast<int64_t>(input_.readable());
  int64_t delta = held - heldInput_;
  heldInput_ = held;
  int64_t total = server_.heldInput_.fetch_add(delta, std::memory_order_relaxed) + delta;
  if (delta > 0 && total > server_.options_.maxInputMemory) {
    why = "server input memory full: partial messages of all connections over " +
          std::to_string(server_.options_.maxInputMemory) + " bytes";
    return false;
  }
  return true;
}

bool ThreadedServer::ConnThread::writeAll(std::string_view data) {
  std::lock_guard<std::mutex> lock(writeMutex_);
  if (writeFailed_ || !fd_.valid()) return false;
  while (!data.empty()) {
    // In pieces, so lastWriteNs_ shows a slow reader's progress as it happens.
    ssize_t n = ::send(fd_.get(), data.data(), std::min(data.size(), kWriteChunk), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      writeError_ = (errno == EAGAIN || errno == EWOULDBLOCK)
                        ? std::string("write: peer stopped reading (send timeout)")
                        : std::string("write: ") + std::strerror(errno);
      peerGone_ = errno == ECONNRESET || errno == EPIPE;
      writeFailed_ = true;
      return false;
    }
    Counters::bump(counters_.bytesOut, n);
    lastWriteNs_.store(nowNs(), std::memory_order_relaxed);
    data.remove_prefix(n);
  }
  return true;
}

bool ThreadedServer::ConnThread::enqueue(std::string_view data) {
  if (std::this_thread::get_id() == owner_) {
    send(data);
    return !writeFailed_;
  }
  std::unique_lock<std::mutex> lock(queueMutex_);
  if (queueClosed_) return false;
  // The sender never waits for this member. Only what the kernel will not take right now
  // counts against the bound; past it, a member to which nothing could be written for
  // kStallNs is stalled and dropped, alone. One that is merely behind (still reading, or its
  // writer descheduled on a busy machine) keeps up to kBehindFactor times the bound.
  size_t after = queue_.size() + data.size();
  bool over = queueLimit_ > 0 && after > queueLimit_;
  if (over && writeQueuedNow()) {
    after = queue_.size() + data.size();
    over = after > queueLimit_;
  }
  int64_t progressNs = std::max(queueSinceNs_, lastWriteNs_.load(std::memory_order_relaxed));
  bool stalled = !queue_.empty() && nowNs() - progressNs >= kStallNs;
  if (over && (stalled || after > kBehindFactor * queueLimit_)) {
    queueClosed_ = true;
    dropReason_ = "too slow: over " + std::to_string(queueLimit_) + " bytes queued (" +
                  std::to_string(queue_.size() + data.size()) + ")";
    queue_.clear();
    lock.unlock();
    writerDone_.notify_all();
    Counters::bump(counters_.droppedSlow);
    interrupt();  // the reader wakes, finishes, and tells the handler why
    return false;
  }
  if (queueClosed_) return false;
  if (queue_.empty()) queueSinceNs_ = nowNs();
  queue_.append(data);
  ++queuedMessages_;
  if (!startWriter()) return false;
  lock.unlock();
  queueReady_.notify_one();
  return true;
}

// With queueMutex_ held: hands the queue to the kernel without blocking, when the writer is
// idle (a busy writer holds older bytes, which must go first). False if it could not try.
bool ThreadedServer::ConnThread::writeQueuedNow() {
  if (writerBusy_ || queue_.empty()) return false;
  std::unique_lock<std::mutex> write(writeMutex_, std::try_to_lock);
  if (!write || writeFailed_ || !fd_.valid()) return false;
  size_t sent = 0;
  while (sent < queue_.size()) {
    ssize_t n =
        ::send(fd_.get(), queue_.data() + sent, queue_.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (sent == 0) return true;
  Counters::bump(counters_.bytesOut, sent);
  lastWriteNs_.store(nowNs(), std::memory_order_relaxed);
  if (sent < queue_.size()) midMessage_.store(true, std::memory_order_release);
  queue_.erase(0, sent);
  if (queue_.empty()) Counters::bump(counters_.messagesOut, std::exchange(queuedMessages_, 0));
  return true;
}

// On this connection's own thread: a blocking model blocks its own thread, never another's.
void ThreadedServer::ConnThread::waitForWriter() {
  std::unique_lock<std::mutex> lock(queueMutex_);
  writerDone_.wait(lock, [this] {
    return !midMessage_.load(std::memory_order_relaxed) || queueClosed_ || writeFailed_;
  });
}

// With queueMutex_ held. Out of threads, the member is dropped: it cannot be written to.
bool ThreadedServer::ConnThread::startWriter() {
  if (writer_.joinable()) return true;
  Result<SmallThread> writer = SmallThread::start([this] { writerLoop(); });
  if (writer.ok()) {
    writer_ = std::move(writer.value());
    return true;
  }
  queueClosed_ = true;
  queue_.clear();
  dropReason_ = "cannot start a writer thread: " + writer.error().message;
  writerDone_.notify_all();
  interrupt();
  return false;
}

void ThreadedServer::ConnThread::writerLoop() {
  std::unique_lock<std::mutex> lock(queueMutex_);
  for (;;) {
    queueReady_.wait(lock, [this] { return !queue_.empty() || queueClosed_; });
    if (queue_.empty()) return;
    std::string batch;
    batch.swap(queue_);
    size_t messages = std::exchange(queuedMessages_, 0);
    writerBusy_ = true;
    lock.unlock();
    Counters::bump(counters_.messagesOut, messages);
    bool ok = writeAll(batch);
    lock.lock();
    writerBusy_ = false;
    // The batch began with whatever was half written and ends at a message boundary.
    midMessage_.store(false, std::memory_order_release);
    writerDone_.notify_all();
    if (!ok) return;
  }
}

void ThreadedServer::ConnThread::stopWriter() {
  {
    std::lock_guard<std::mutex> lock(queueMutex_);
    queueClosed_ = true;
    queue_.clear();
  }
  queueReady_.notify_one();
  writerDone_.notify_all();
  if (writer_.joinable()) {
    interrupt();  // a writer blocked on a full socket returns at once
    writer_.join();
  }
}

void ThreadedServer::ConnThread::finish(std::string why, bool isError) {
  stopWriter();
  if (writeFailed_) {
    why = writeError_;
    isError = !peerGone_;
  }
  {
    std::lock_guard<std::mutex> lock(queueMutex_);
    if (!dropReason_.empty()) {
      why = dropReason_;
      isError = false;
    }
  }
  if (isError) Counters::bump(counters_.errors);
  server_.heldInput_.fetch_sub(heldInput_, std::memory_order_relaxed);
  heldInput_ = 0;
  server_.releaseAddress(address_);
  server_.liveConnections_.fetch_sub(1, std::memory_order_relaxed);
  if (server_.log_.enabled()) {
    server_.log_.add("close #" + std::to_string(id_) + " " + peer_ + ": " + why);
  }
  handler_->onClose(*this, why);
  std::lock_guard<std::mutex> lock(fdMutex_);
  fd_.reset();
}

ThreadedServer::ThreadedServer(std::shared_ptr<Protocol> protocol, ServerOptions options)
    : Server(std::move(protocol), std::move(options)) {}

ThreadedServer::~ThreadedServer() { stop(); }

Status ThreadedServer::startServing() {
  std::lock_guard<std::mutex> lock(lifecycle_);
  wakeFd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wakeFd_.valid()) return sysError("eventfd");
  acceptor_ = std::thread([this] { acceptLoop(); });
  return {};
}

// Polls with a timeout so finished connection threads are joined even when no one connects.
void ThreadedServer::acceptLoop() {
  SpareFd spare;
  int64_t pausedUntil = 0;  // fds ran out and none could be shed: do not spin on the socket
  int64_t trimAt = 0;
  int closesSinceTrim = 0;
  pollfd fds[2] = {{wakeFd_.get(), POLLIN, 0}, {listenFd_.get(), POLLIN, 0}};
  for (;;) {
    bool accepting = nowNs() >= pausedUntil;
    int rc = ::poll(fds, accepting ? 2 : 1, 100);
    closesSinceTrim += static_cast<int>(reapFinished());
    if (closesSinceTrim >= kTrimAfterCloses && trimAt == 0) trimAt = nowNs() + kNsPerSec;
    if (trimAt != 0 && nowNs() >= trimAt) {  // after a wave of closes, as the loop models do
      trimAt = 0;
      closesSinceTrim = 0;
      returnFreedMemory();
    }
    if (rc < 0 && errno != EINTR) {
      log_.add(std::string("acceptor poll: ") + std::strerror(errno));
      return;
    }
    if (rc <= 0) continue;
    if (fds[0].revents) return;
    if (!accepting || !fds[1].revents) continue;
    for (int i = 0; i < Acceptor::kMaxAcceptsPerWake; ++i) {
      bool shed = false;
      Result<Fd> conn = acceptOne(listenFd_.get(), spare, shed);
      if (conn.ok()) {
        spawn(std::move(conn.value()));
        continue;
      }
      int code = conn.error().code;
      if (shed) {
        Counters::bump(counters_[0]->connectionsRejected);
        continue;
      }
      if (code == EMFILE || code == ENFILE) {
        pausedUntil = nowNs() + kAcceptPauseNs;
      } else if (code != EAGAIN && code != EWOULDBLOCK) {
        Counters::bump(counters_[0]->errors);
        log_.add(conn.error().message);
      }
      break;
    }
  }
}

void ThreadedServer::spawn(Fd fd) {
  Counters& counters = *counters_[0];
  std::string address;
  if (!admit(fd, counters, address)) return;
  if (!setNonBlocking(fd.get(), false).ok()) {
    releaseAddress(address);
    Counters::bump(counters.errors);
    return;
  }
  setNoDelay(fd.get());
  if (options_.idleTimeoutSec > 0) {
    // Reads wait in poll() with the idle and message deadlines; a peer that stops reading
    // frees its thread through the send timeout.
    auto usec = static_cast<int64_t>(options_.idleTimeoutSec * 1e6);
    timeval tv{static_cast<time_t>(usec / 1'000'000), static_cast<suseconds_t>(usec % 1'000'000)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  uint64_t id = nextConnId_.fetch_add(1, std::memory_order_relaxed);
  int rawFd = fd.get();
  auto conn =
      std::make_shared<ConnThread>(*this, std::move(fd), id, address, protocol_->newHandler());
  std::lock_guard<std::mutex> lock(mutex_);
  liveConnections_.fetch_add(1, std::memory_order_relaxed);
  Counters::bump(counters.connectionsTotal);
  if (log_.enabled()) log_.add("open #" + std::to_string(id) + " " + conn->peer());
  Result<SmallThread> thread = SmallThread::start([this, conn] {
    conn->run();
    markFinished(conn->id());
  });
  if (thread.ok()) {
    conns_.emplace(id, Entry{std::move(conn), std::move(thread.value())});
    return;
  }
  // Out of threads: the limit this model runs into first. Tell the client, as select does.
  liveConnections_.fetch_sub(1, std::memory_order_relaxed);
  releaseAddress(address);
  std::string line = "error: server full: cannot start a thread (" + thread.error().message + ")\n";
  ::send(rawFd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  Counters::bump(counters.connectionsRejected);
  log_.add(line);
}

void ThreadedServer::markFinished(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  finished_.push_back(id);
}

size_t ThreadedServer::reapFinished() {
  std::vector<SmallThread> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint64_t id : finished_) {
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      done.push_back(std::move(it->second.thread));
      conns_.erase(it);
    }
    finished_.clear();
  }
  for (auto& t : done) t.join();
  return done.size();
}

void ThreadedServer::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_);
  if (!running_.exchange(false)) return;
  uint64_t one = 1;
  ::write(wakeFd_.get(), &one, sizeof one);
  if (acceptor_.joinable()) acceptor_.join();
  listenFd_.reset();
  std::unordered_map<uint64_t, Entry> conns;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    for (auto& entry : conns_) entry.second.conn->interrupt();
    conns.swap(conns_);
    finished_.clear();
  }
  for (auto& entry : conns) entry.second.thread.join();
  wakeFd_.reset();
}

// Live connections, not threads awaiting their join: those are already done serving.
size_t ThreadedServer::threads() const {
  if (!running_) return 0;
  return static_cast<size_t>(liveConnections_.load(std::memory_order_relaxed)) + 1;
}

}  // namespace netlab
