// The thread-per-connection model: an acceptor thread, and for each client a thread of its
// own. That thread waits in poll(2) on its client's socket, an eventfd (for work handed over
// by other threads: chat messages, stop) and its next timer deadline; the connections its
// handler opens (a relay's target) are served by the same thread. So every handler call works
// here as under the loop models, while the cost the model exists to show stays: a thread,
// its stack and a context switch per connection that has something to do.
#pragma once

#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "netlab/io/event_loop.h"
#include "netlab/io/small_thread.h"
#include "netlab/models/server.h"

namespace netlab {

class ThreadedServer final : public Server {
 public:
  ThreadedServer(std::shared_ptr<Protocol> protocol, ServerOptions options);
  ~ThreadedServer() override;
  void stop() override;
  size_t threads() const override;

 protected:
  Status startServing(bool onThisThread) override;

 private:
  struct Entry {
    std::unique_ptr<EventLoop> loop;  // poll(2) on this client's sockets
    SmallThread thread;               // 256 KiB of stack, not glibc's 8 MiB
  };

  void acceptLoop();
  void spawn(Fd fd);
  void serve(EventLoop& loop, Fd fd, const std::string& address, uint64_t entryId);
  void markFinished(uint64_t id);
  /// Joins finished connection threads; returns how many.
  size_t reapFinished();

  std::mutex lifecycle_;
  Fd wakeFd_;
  std::thread acceptor_;
  mutable std::mutex mutex_;  // guards conns_ and finished_
  std::unordered_map<uint64_t, Entry> conns_;
  std::vector<uint64_t> finished_;
  uint64_t nextEntry_ = 1;
};

}  // namespace netlab
