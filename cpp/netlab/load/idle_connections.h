// The idle crowd of the C10K experiment: connections that are opened before a run, carry no
// traffic during it, and are checked at its end for the server having closed or reset them.
// They cost a server what idle clients cost it (a descriptor in every poll or select call, a
// thread under thread-per-connection), which is the point of the experiment.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netlab/io/connector.h"
#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/io/socket.h"

namespace netlab {

class IdleConnections {
 public:
  struct Counts {
    uint64_t opened = 0;   // connects that succeeded
    uint64_t failed = 0;   // connects that did not (refused, timed out, out of fds)
    uint64_t dropped = 0;  // opened, then closed or reset by the server during the run
    std::string firstFailure;
  };

  static Result<std::unique_ptr<IdleConnections>> create(const Endpoint& endpoint, int count,
                                                         int64_t connectTimeoutNs);
  IdleConnections(std::unique_ptr<EventLoop> loop, const Endpoint& endpoint, int count,
                  int64_t connectTimeoutNs);
  ~IdleConnections();

  /// Opens them on the calling thread, at most kMaxConnectsInFlight connects at a time, for at
  /// most `sliceNs` (less when a signal arrives); true once every connect has finished.
  bool openFor(int64_t sliceNs);
  /// Reads what each has received since it opened, counts those the server closed or reset,
  /// and closes them all. Idempotent: the counts stay.
  const Counts& finish();
  const Counts& counts() const { return counts_; }

  static constexpr int kMaxConnectsInFlight = 256;

 private:
  void startConnects();
  static bool droppedByServer(int fd);

  std::unique_ptr<EventLoop> loop_;
  Endpoint endpoint_;
  int count_;
  int64_t connectTimeoutNs_;
  int started_ = 0;
  int finishedConnects_ = 0;
  std::vector<std::shared_ptr<Connector>> pending_;
  std::vector<Fd> held_;
  Counts counts_;
  bool closed_ = false;
};

}  // namespace netlab
