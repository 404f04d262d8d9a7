#include "netlab/models/threaded_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <system_error>
#include <utility>

#include "netlab/io/acceptor.h"
#include "netlab/io/socket.h"

namespace netlab {

/// One blocking connection and the thread body that serves it. Messages from other threads
/// (chat relays) go through a bounded queue and a writer thread started on first use, so a
/// slow reader blocks only its own writer, never the member who spoke.
class ThreadedServer::ConnThread final : public Conn,
                                         public std::enable_shared_from_this<ConnThread> {
 public:
  ConnThread(ThreadedServer& server, Fd fd, uint64_t id, std::unique_ptr<Handler> handler)
      : server_(server), counters_(*server.counters_[0]), fd_(std::move(fd)), id_(id),
        peer_(peerName(fd_.get())), handler_(std::move(handler)),
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
    Counters::bump(counters_.messagesOut);
    writeAll(data);
  }
  void closeAfterFlush() override { closing_ = true; }
  void fail(std::string_view reason) override {
    Counters::bump(counters_.errors);
    if (server_.log_.enabled()) server_.log_.add("error #" + std::to_string(id_) + ": " + std::string(reason));
    closing_ = true;
  }
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }
  std::shared_ptr<Outlet> outlet() override;

 private:
  class ThreadOutlet;

  bool readOnce(std::string& why, bool& isError);
  bool writeAll(std::string_view data);
  void writerLoop();
  void stopWriter();
  void finish(std::string why, bool isError);

  ThreadedServer& server_;
  Counters& counters_;
  std::mutex fdMutex_;  // the fd is closed by this thread and shut down by others
  Fd fd_;
  uint64_t id_;
  std::string peer_;
  std::unique_ptr<Handler> handler_;
  Buffer input_;
  bool closing_ = false;
  std::thread::id owner_;

  std::mutex writeMutex_;  // one writer at a time on the socket
  std::atomic<bool> writeFailed_{false};
  std::string writeError_;  // read once the writer thread has been joined
  bool peerGone_ = false;

  size_t queueLimit_;
  std::mutex queueMutex_;
  std::condition_variable queueReady_;
  std::condition_variable queueSpace_;
  static constexpr std::chrono::milliseconds kSlowGrace{500};
  std::string queue_;
  size_t queuedMessages_ = 0;
  bool queueClosed_ = false;
  std::string dropReason_;
  std::thread writer_;
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
  ssize_t n = input_.readFrom(fd_.get(), Buffer::kReadChunk);
  if (n > 0) {
    Counters::bump(counters_.bytesIn, n);
    Counters::bump(counters_.messagesIn, handler_->onData(*this, input_));
    size_t limit = server_.protocol_->maxPendingInput();
    if (!closing_ && input_.readable() > limit) {
      why = "over " + std::to_string(limit) + " bytes of unconsumed input";
      isError = true;
      return false;
    }
    return true;
  }
  if (n == 0) {
    why = "closed";
    return false;
  }
  if (errno == EINTR) return true;
  if (errno == EAGAIN || errno == EWOULDBLOCK) {  // SO_RCVTIMEO: the idle timeout
    why = "idle timeout";
    return false;
  }
  why = std::string("read: ") + std::strerror(errno);
  isError = errno != ECONNRESET;  // a peer that resets ends its own connection
  return false;
}

bool ThreadedServer::ConnThread::writeAll(std::string_view data) {
  std::lock_guard<std::mutex> lock(writeMutex_);
  if (writeFailed_ || !fd_.valid()) return false;
  while (!data.empty()) {
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
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
  auto fits = [&] { return queueClosed_ || queue_.size() + data.size() <= queueLimit_; };
  // A blocking model blocks: the sender waits a moment for this connection's writer, as a
  // blocking write would, so a writer the scheduler merely delayed is not taken for a slow
  // peer. A peer still over the bound after the grace is dropped.
  if (queueLimit_ > 0 && !queueSpace_.wait_for(lock, kSlowGrace, fits)) {
    queueClosed_ = true;
    dropReason_ = "too slow: over " + std::to_string(queueLimit_) + " bytes queued (" +
                  std::to_string(queue_.size() + data.size()) + ")";
    queue_.clear();
    lock.unlock();
    Counters::bump(counters_.droppedSlow);
    interrupt();  // the reader wakes, finishes, and tells the handler why
    return false;
  }
  if (queueClosed_) return false;
  queue_.append(data);
  ++queuedMessages_;
  if (!writer_.joinable()) writer_ = std::thread([this] { writerLoop(); });
  lock.unlock();
  queueReady_.notify_one();
  return true;
}

void ThreadedServer::ConnThread::writerLoop() {
  std::unique_lock<std::mutex> lock(queueMutex_);
  for (;;) {
    queueReady_.wait(lock, [this] { return !queue_.empty() || queueClosed_; });
    if (queue_.empty()) return;
    std::string batch;
    batch.swap(queue_);
    size_t messages = std::exchange(queuedMessages_, 0);
    lock.unlock();
    queueSpace_.notify_all();
    Counters::bump(counters_.messagesOut, messages);
    bool ok = writeAll(batch);
    lock.lock();
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
  queueSpace_.notify_all();
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
  pollfd fds[2] = {{listenFd_.get(), POLLIN, 0}, {wakeFd_.get(), POLLIN, 0}};
  for (;;) {
    int rc = ::poll(fds, 2, 100);
    reapFinished();
    if (rc < 0 && errno != EINTR) {
      log_.add(std::string("acceptor poll: ") + std::strerror(errno));
      return;
    }
    if (rc <= 0) continue;
    if (fds[1].revents) return;
    for (int i = 0; i < Acceptor::kMaxAcceptsPerWake; ++i) {
      Result<Fd> conn = acceptOne(listenFd_.get(), spare);
      if (conn.ok()) {
        spawn(std::move(conn.value()));
        continue;
      }
      if (conn.error().code != EAGAIN && conn.error().code != EWOULDBLOCK) {
        Counters::bump(counters_[0]->errors);
        log_.add(conn.error().message);
      }
      break;
    }
  }
}

void ThreadedServer::spawn(Fd fd) {
  Counters& counters = *counters_[0];
  if (atConnectionLimit()) {
    reject(std::move(fd), "server full", counters);
    return;
  }
  if (!setNonBlocking(fd.get(), false).ok()) {
    Counters::bump(counters.errors);
    return;
  }
  setNoDelay(fd.get());
  if (options_.idleTimeoutSec > 0) {
    // The same bound on both directions: a silent or non-reading peer frees its thread.
    timeval tv{static_cast<time_t>(options_.idleTimeoutSec),
               static_cast<suseconds_t>((options_.idleTimeoutSec - static_cast<time_t>(options_.idleTimeoutSec)) * 1e6)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  uint64_t id = nextConnId_.fetch_add(1, std::memory_order_relaxed);
  int rawFd = fd.get();
  auto conn = std::make_shared<ConnThread>(*this, std::move(fd), id, protocol_->newHandler());
  std::lock_guard<std::mutex> lock(mutex_);
  liveConnections_.fetch_add(1, std::memory_order_relaxed);
  Counters::bump(counters.connectionsTotal);
  if (log_.enabled()) log_.add("open #" + std::to_string(id) + " " + conn->peer());
  try {
    std::thread thread([this, conn] {
      conn->run();
      markFinished(conn->id());
    });
    conns_.emplace(id, Entry{std::move(conn), std::move(thread)});
  } catch (const std::system_error& e) {
    // Out of threads: the limit this model runs into first. Tell the client, as select does.
    liveConnections_.fetch_sub(1, std::memory_order_relaxed);
    std::string line = std::string("error: server full: cannot start a thread (") + e.what() + ")\n";
    ::send(rawFd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    Counters::bump(counters.connectionsRejected);
    log_.add(line);
  }
}

void ThreadedServer::markFinished(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  finished_.push_back(id);
}

void ThreadedServer::reapFinished() {
  std::vector<std::thread> done;
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
