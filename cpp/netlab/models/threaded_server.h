// The thread-per-connection model of the classic examples: an acceptor thread, and for each
// client a thread that blocks in read(2) and write(2). A peer that does not read blocks its
// own thread in write, which is this model's backpressure; memory stays at the socket buffers.
#pragma once

#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

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
  Status startServing() override;

 private:
  class ConnThread;
  struct Entry {
    std::shared_ptr<ConnThread> conn;
    SmallThread thread;  // 256 KiB of stack, not glibc's 8 MiB
  };

  void acceptLoop();
  void spawn(Fd fd);
  void markFinished(uint64_t id);
  /// Joins finished connection threads; returns how many.
  size_t reapFinished();

  std::mutex lifecycle_;
  Fd wakeFd_;
  std::thread acceptor_;
  mutable std::mutex mutex_;  // guards conns_ and finished_
  std::unordered_map<uint64_t, Entry> conns_;
  std::vector<uint64_t> finished_;
};

}  // namespace netlab
