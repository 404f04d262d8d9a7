// The epoll, poll and select models: N event loops on N threads, each owning its connections.
//
// With workers > 1 every loop watches the one listening socket with EPOLLEXCLUSIVE, so the
// kernel wakes a single idle loop per connection and that loop accepts it. Chosen over
// SO_REUSEPORT because it keeps one socket: a second server on the same port still fails
// with EADDRINUSE instead of silently sharing the port's traffic.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "netlab/io/acceptor.h"
#include "netlab/models/server.h"

namespace netlab {

class LoopServer final : public Server {
 public:
  LoopServer(std::shared_ptr<Protocol> protocol, ServerOptions options);
  ~LoopServer() override;
  void stop() override;
  size_t threads() const override;
  bool servesHere() const override { return here_; }
  Status serveHere(double seconds) override;

 protected:
  Status startServing(bool onThisThread) override;

 private:
  class Worker;
  void teardown();

  std::mutex lifecycle_;      // start/stop/serveHere against each other
  bool here_ = false;         // one loop, run by serveHere() on the caller's thread
  bool servingHere_ = false;  // a thread is inside serveHere() right now
  SpareFd spare_;             // one per listening socket, shared by the workers
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace netlab
