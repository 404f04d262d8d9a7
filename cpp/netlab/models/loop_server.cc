#include "netlab/models/loop_server.h"

#include <sys/select.h>

#include <thread>
#include <unordered_map>

#include "netlab/io/acceptor.h"
#include "netlab/io/clock.h"
#include "netlab/io/memory.h"
#include "netlab/io/socket.h"
#include "netlab/models/loop_conn.h"

namespace netlab {

/// One loop, its thread, and the connections it owns.
class LoopServer::Worker {
 public:
  Worker(LoopServer& server, std::unique_ptr<EventLoop> loop, Counters& counters)
      : server_(server),
        loop_(std::move(loop)),
        ctx_{*loop_,
             counters,
             server.liveConnections_,
             server.heldInput_,
             server.options_.maxInputMemory,
             server.log_,
             static_cast<size_t>(server.options_.highWater),
             server.protocol_->maxPendingInput(),
             server.protocol_->maxQueuedOutput(),
             static_cast<int64_t>(server.options_.idleTimeoutSec * kNsPerSec),
             static_cast<int64_t>(server.options_.messageTimeoutSec * kNsPerSec),
             [this](uint64_t id, const std::string& address) { dropConnection(id, address); }},
        acceptor_(
            *loop_, server.listenFd_.get(), server.spare_,
            [this](Fd fd) { onAccept(std::move(fd)); },
            [this](const Error& e) { onAcceptFailure(e); },
            [this] { Counters::bump(ctx_.counters.connectionsRejected); }) {}

  Status listen(bool exclusive) { return acceptor_.listen(exclusive); }

  void startThread() {
    thread_ = std::thread([this] {
      Status s = loop_->run();
      if (!s.ok()) server_.log_.add("loop stopped: " + s.error().message);
    });
  }

  /// Stops the loop; once its thread has exited, closes the connections from this thread.
  void stopAndJoin() {
    loop_->stop();
    if (thread_.joinable()) thread_.join();
    auto conns = std::move(conns_);
    for (auto& entry : conns) entry.second->closeNow("server stopping", false);
  }

 private:
  void onAccept(Fd fd) {
    std::string address;
    if (!server_.admit(fd, ctx_.counters, address)) return;
    if (!loop_->canWatch(fd.get())) {
      server_.releaseAddress(address);
      server_.reject(std::move(fd),
                     "server full: select() cannot watch fd " + std::to_string(fd.get()) +
                         " (FD_SETSIZE is " + std::to_string(FD_SETSIZE) + ")",
                     ctx_.counters);
      return;
    }
    setNoDelay(fd.get());
    uint64_t id = server_.nextConnId_.fetch_add(1, std::memory_order_relaxed);
    auto conn = std::make_shared<LoopConn>(ctx_, std::move(fd), id, address,
                                           server_.protocol_->newHandler());
    conns_.emplace(id, conn);
    if (!conn->open()) {
      conns_.erase(id);
      server_.releaseAddress(address);
      Counters::bump(ctx_.counters.errors);
    }
  }

  void onAcceptFailure(const Error& e) {
    Counters::bump(ctx_.counters.errors);
    server_.log_.add(e.message);
  }

  void dropConnection(uint64_t id, const std::string& address) {
    server_.releaseAddress(address);
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    loop_->destroyLater(it->second);
    conns_.erase(it);
    if (++closesSinceTrim_ >= kTrimAfterCloses) trimSoon();
  }

  // Closed connections' buffers go back to the allocator, which keeps them; a second later,
  // once a wave of closes has passed, the process gives them back to the system.
  void trimSoon() {
    if (trimArmed_) return;
    trimArmed_ = true;
    loop_->runAt(nowNs() + kNsPerSec, [this] {
      trimArmed_ = false;
      closesSinceTrim_ = 0;
      returnFreedMemory();
    });
  }

  LoopServer& server_;
  std::unique_ptr<EventLoop> loop_;
  LoopConnContext ctx_;
  Acceptor acceptor_;
  std::unordered_map<uint64_t, std::shared_ptr<LoopConn>> conns_;
  std::thread thread_;
  bool trimArmed_ = false;
  int closesSinceTrim_ = 0;
};

LoopServer::LoopServer(std::shared_ptr<Protocol> protocol, ServerOptions options)
    : Server(std::move(protocol), std::move(options)) {}

LoopServer::~LoopServer() { stop(); }

Status LoopServer::startServing() {
  std::lock_guard<std::mutex> lock(lifecycle_);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int64_t i = 0; i < options_.workers; ++i) {
    auto loop = EventLoop::create(options_.model);
    if (!loop.ok()) return loop.error();
    workers.push_back(std::make_unique<Worker>(*this, std::move(loop.value()),
                                               *counters_[static_cast<size_t>(i)]));
    Status s = workers.back()->listen(options_.workers > 1);
    if (!s.ok()) return s;
  }
  workers_ = std::move(workers);
  for (auto& w : workers_) w->startThread();
  return {};
}

void LoopServer::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_);
  if (!running_.exchange(false)) return;
  for (auto& w : workers_) w->stopAndJoin();
  workers_.clear();  // acceptors stop watching the socket before it is closed
  listenFd_.reset();
}

size_t LoopServer::threads() const { return running_ ? static_cast<size_t>(options_.workers) : 0; }

}  // namespace netlab
