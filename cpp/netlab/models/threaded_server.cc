#include "netlab/models/threaded_server.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "netlab/io/acceptor.h"
#include "netlab/io/clock.h"
#include "netlab/io/memory.h"
#include "netlab/models/loop_connections.h"

namespace netlab {

ThreadedServer::ThreadedServer(std::shared_ptr<Protocol> protocol, ServerOptions options)
    : Server(std::move(protocol), std::move(options)) {
  counters_[0]->shared = true;  // every connection thread counts into it
}

ThreadedServer::~ThreadedServer() { stop(); }

Status ThreadedServer::startServing(bool /*onThisThread*/) {
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
    Counters::bump(counters_[0]->waits);
    if (rc > 0) Counters::bump(counters_[0]->readyEvents, static_cast<uint64_t>(rc));
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
      Result<Fd> conn = acceptOne(listenFd_.get(), spare, shed, &counters_[0]->accepts);
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
  auto loop = EventLoop::create("poll");
  if (!loop.ok()) {
    releaseAddress(address);
    reject(std::move(fd), "server full: " + loop.error().message, counters);
    return;
  }
  loop.value()->countWaitsInto(&counters.waits, &counters.readyEvents);
  EventLoop* raw = loop.value().get();
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t entryId = nextEntry_++;
  auto held = std::make_shared<Fd>(std::move(fd));
  auto body = [this, raw, held, address, entryId] {
    serve(*raw, std::move(*held), address, entryId);
  };
  Result<SmallThread> thread = SmallThread::start(std::move(body));
  if (thread.ok()) {
    conns_.emplace(entryId, Entry{std::move(loop.value()), std::move(thread.value())});
    return;
  }
  // Out of threads: the limit this model runs into first. The client is told, as select's
  // are, with the fd the closure that never ran still shares.
  releaseAddress(address);
  reject(std::move(*held), "server full: cannot start a thread (" + thread.error().message + ")",
         counters);
}

// The connection thread: its loop runs until its last connection has closed.
void ThreadedServer::serve(EventLoop& loop, Fd fd, const std::string& address, uint64_t entryId) {
  {
    loop.adoptThisThread();
    LoopConnections conns(*this, loop, *counters_[0]);
    conns.trimAfterCloses(false);  // the acceptor trims for all threads
    conns.onEmpty([&loop] { loop.stop(); });
    if (conns.adopt(std::move(fd), address)) {
      Status s = loop.run();
      if (!s.ok()) log_.add("connection loop stopped: " + s.error().message);
      conns.closeAll({CloseKind::kServerStopping, 0, "server stopping"});
    }
  }
  markFinished(entryId);
}

void ThreadedServer::markFinished(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  finished_.push_back(id);
}

size_t ThreadedServer::reapFinished() {
  std::vector<Entry> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint64_t id : finished_) {
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      done.push_back(std::move(it->second));
      conns_.erase(it);
    }
    finished_.clear();
  }
  for (auto& entry : done) entry.thread.join();
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
    conns.swap(conns_);
    finished_.clear();
  }
  // Each thread closes its own connections, so handlers hear of it on their thread.
  for (auto& entry : conns) {
    EventLoop* loop = entry.second.loop.get();
    if (!loop->post([loop] { loop->stop(); })) loop->stop();
  }
  for (auto& entry : conns) entry.second.thread.join();
  wakeFd_.reset();
  protocol_->onServerStop();
}

// Live connections, not threads awaiting their join: those are already done serving.
size_t ThreadedServer::threads() const {
  if (!running_) return 0;
  return static_cast<size_t>(liveConnections_.load(std::memory_order_relaxed)) + 1;
}

}  // namespace netlab
