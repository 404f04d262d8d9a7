#include "netlab/models/threaded_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "netlab/io/acceptor.h"
#include "netlab/io/socket.h"

namespace netlab {

/// One blocking connection and the thread body that serves it.
class ThreadedServer::ConnThread final : public Conn {
 public:
  ConnThread(ThreadedServer& server, Fd fd, uint64_t id, std::unique_ptr<Handler> handler)
      : server_(server), counters_(*server.counters_[0]), fd_(std::move(fd)), id_(id),
        peer_(peerName(fd_.get())), handler_(std::move(handler)) {}

  void run();
  /// From stop(): wakes the blocked read or write so the thread can finish.
  void interrupt() {
    std::lock_guard<std::mutex> lock(fdMutex_);
    if (fd_.valid()) ::shutdown(fd_.get(), SHUT_RDWR);
  }

  void send(std::string_view data) override;
  void closeAfterFlush() override { closing_ = true; }
  void fail(std::string_view reason) override {
    Counters::bump(counters_.errors);
    if (server_.log_.enabled()) server_.log_.add("error #" + std::to_string(id_) + ": " + std::string(reason));
    closing_ = true;
  }
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }

 private:
  bool readOnce(std::string& why, bool& isError);
  void finish(const std::string& why, bool isError);

  ThreadedServer& server_;
  Counters& counters_;
  std::mutex fdMutex_;  // the fd is closed by this thread and shut down by stop()
  Fd fd_;
  uint64_t id_;
  std::string peer_;
  std::unique_ptr<Handler> handler_;
  Buffer input_;
  bool closing_ = false;
  std::string writeError_;
  bool peerGone_ = false;
};

void ThreadedServer::ConnThread::run() {
  handler_->onOpen(*this);
  std::string why = "closed";
  bool isError = false;
  while (!closing_ && writeError_.empty() && readOnce(why, isError)) {
  }
  if (!writeError_.empty()) {
    why = writeError_;
    isError = !peerGone_;
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

void ThreadedServer::ConnThread::send(std::string_view data) {
  if (!writeError_.empty() || !fd_.valid()) return;
  Counters::bump(counters_.messagesOut);
  while (!data.empty()) {
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      writeError_ = (errno == EAGAIN || errno == EWOULDBLOCK)
                        ? std::string("write: peer stopped reading (send timeout)")
                        : std::string("write: ") + std::strerror(errno);
      peerGone_ = errno == ECONNRESET || errno == EPIPE;
      return;
    }
    Counters::bump(counters_.bytesOut, n);
    data.remove_prefix(n);
  }
}

void ThreadedServer::ConnThread::finish(const std::string& why, bool isError) {
  if (isError) Counters::bump(counters_.errors);
  server_.liveConnections_.fetch_sub(1, std::memory_order_relaxed);
  if (server_.log_.enabled()) {
    server_.log_.add("close #" + std::to_string(id_) + " " + peer_ + ": " + why);
  }
  handler_->onClose(*this);
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
