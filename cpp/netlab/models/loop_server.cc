#include "netlab/models/loop_server.h"

#include <sys/select.h>

#include <system_error>
#include <thread>

#include "netlab/io/acceptor.h"
#include "netlab/io/clock.h"
#include "netlab/io/socket.h"
#include "netlab/models/loop_connections.h"

namespace netlab {

/// One loop, its thread, and the connections it owns.
class LoopServer::Worker {
 public:
  Worker(LoopServer& server, std::unique_ptr<EventLoop> loop, Counters& counters)
      : server_(server),
        counters_(counters),
        loop_(std::move(loop)),
        conns_(server, *loop_, counters),
        acceptor_(
            *loop_, server.listenFd_.get(), server.spare_,
            [this](Fd fd) { onAccept(std::move(fd)); },
            [this](const Error& e) { onAcceptFailure(e); },
            [this] { Counters::bump(counters_.connectionsRejected); }) {
    acceptor_.countAcceptsInto(&counters_.accepts);
  }

  Status listen(bool exclusive) { return acceptor_.listen(exclusive); }

  // A process out of threads is an error for start() to report, not an exception that would
  // leave the workers already running behind.
  Status startThread() {
    try {
      thread_ = std::thread([this] {
        Status s = loop_->run();
        if (!s.ok()) server_.log_.add("loop stopped: " + s.error().message);
      });
    } catch (const std::system_error& e) {
      return Error{e.code().value(), std::string("could not start a loop thread: ") + e.what()};
    }
    return {};
  }

  Status runFor(double seconds) {
    Status s = loop_->runFor(static_cast<int64_t>(seconds * kNsPerSec));
    if (!s.ok()) server_.log_.add("loop stopped: " + s.error().message);
    return s;
  }

  /// For a loop some other thread is running in serveHere(): it closes the connections and
  /// returns from its run.
  void stopSoon() {
    bool posted = loop_->post([this] {
      conns_.closeAll({CloseKind::kServerStopping, 0, "server stopping"});
      loop_->stop();
    });
    if (!posted) loop_->stop();
  }

  /// Closes the connections on the loop's own thread (handlers are only ever called there),
  /// then stops it. Only if the loop cannot take the task are they closed from here, once its
  /// thread has exited.
  void stopAndJoin() {
    const CloseReason stopping{CloseKind::kServerStopping, 0, "server stopping"};
    bool posted = loop_->post([this, stopping] {
      conns_.closeAll(stopping);
      loop_->stop();
    });
    if (!posted) loop_->stop();
    if (thread_.joinable()) thread_.join();
    loop_->adoptThisThread();  // its thread is gone: this one finishes what is left
    conns_.closeAll(stopping);
  }

 private:
  void onAccept(Fd fd) {
    std::string address;
    if (!server_.admit(fd, counters_, address)) return;
    if (!loop_->canWatch(fd.get())) {
      server_.releaseAddress(address);
      server_.reject(std::move(fd),
                     "server full: select() cannot watch fd " + std::to_string(fd.get()) +
                         " (FD_SETSIZE is " + std::to_string(FD_SETSIZE) + ")",
                     counters_);
      return;
    }
    (void)conns_.adopt(std::move(fd), address);
  }

  void onAcceptFailure(const Error& e) {
    Counters::bump(counters_.errors);
    server_.log_.add(e.message);
  }

  LoopServer& server_;
  Counters& counters_;
  std::unique_ptr<EventLoop> loop_;
  LoopConnections conns_;
  Acceptor acceptor_;
  std::thread thread_;
};

LoopServer::LoopServer(std::shared_ptr<Protocol> protocol, ServerOptions options)
    : Server(std::move(protocol), std::move(options)) {}

LoopServer::~LoopServer() { stop(); }

Status LoopServer::startServing(bool onThisThread) {
  std::lock_guard<std::mutex> lock(lifecycle_);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int64_t i = 0; i < options_.workers; ++i) {
    auto loop = EventLoop::create(options_.model);
    if (!loop.ok()) return loop.error();
    Counters& counters = *counters_[static_cast<size_t>(i)];
    loop.value()->countWaitsInto(&counters.waits, &counters.readyEvents);
    // Only a saving: without a timerfd (no descriptor left, a sandbox that refuses it, past
    // select's cap) the loop's waits keep their own timeout.
    Status covered = loop.value()->coverFarDeadlines();
    if (!covered.ok()) log_.add("waits keep their timeout: " + covered.error().message);
    workers.push_back(std::make_unique<Worker>(*this, std::move(loop.value()),
                                               *counters_[static_cast<size_t>(i)]));
    Status s = workers.back()->listen(options_.workers > 1);
    if (!s.ok()) return s;
  }
  workers_ = std::move(workers);
  here_ = onThisThread && workers_.size() == 1;
  if (!here_) {
    for (auto& w : workers_) {
      Status started = w->startThread();
      if (started.ok()) continue;
      for (auto& running : workers_) running->stopAndJoin();  // a thread not started: no join
      workers_.clear();
      return started;
    }
  }
  return {};
}

Status LoopServer::serveHere(double seconds) {
  {
    std::lock_guard<std::mutex> lock(lifecycle_);
    if (!here_ || !running_) return {};
    if (servingHere_) return Error{EBUSY, "the server is already being served by another thread"};
    servingHere_ = true;
  }
  Status s = workers_.front()->runFor(seconds);
  std::lock_guard<std::mutex> lock(lifecycle_);
  servingHere_ = false;
  if (!running_) teardown();  // stop() came from another thread while this one served
  return s;
}

void LoopServer::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_);
  if (!running_.exchange(false)) return;
  if (servingHere_) {
    workers_.front()->stopSoon();  // the serving thread tears down when its run returns
    return;
  }
  teardown();
}

void LoopServer::teardown() {
  for (auto& w : workers_) w->stopAndJoin();
  workers_.clear();  // acceptors stop watching the socket before it is closed
  listenFd_.reset();
  protocol_->onServerStop();
}

size_t LoopServer::threads() const { return running_ ? static_cast<size_t>(options_.workers) : 0; }

}  // namespace netlab
