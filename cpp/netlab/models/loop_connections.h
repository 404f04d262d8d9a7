// The connections one EventLoop serves: how they open, connect out, close and are dropped.
// Each worker loop of the epoll, poll and select models holds one; so does each connection
// thread of the threaded model, whose loop serves one client and the connections its handler
// opens.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "netlab/core/counters.h"
#include "netlab/io/event_loop.h"
#include "netlab/models/loop_conn.h"

namespace netlab {

class Server;

class LoopConnections {
 public:
  LoopConnections(Server& server, EventLoop& loop, Counters& counters);
  ~LoopConnections();

  /// Serves an accepted, admitted client. False (and the slot given back) if the loop could
  /// not watch it.
  bool adopt(Fd fd, const std::string& address);
  /// Closes every connection, on the loop thread, telling each handler why.
  void closeAll(const CloseReason& reason);
  size_t size() const { return conns_.size(); }
  /// Runs when the last connection has gone (the threaded model ends its thread there).
  void onEmpty(std::function<void()> fn) {
    onEmpty_ = std::move(fn);
    ctx_.threadPerClient = true;
  }
  /// Hands freed buffers back to the system a second after a wave of closes.
  void trimAfterCloses(bool on) { trim_ = on; }

 private:
  void connectOut(std::unique_ptr<Handler> handler, const std::string& host, uint16_t port,
                  double timeoutSec);
  void dropConnection(uint64_t id, const std::string& address);
  void trimSoon();

  Server& server_;
  EventLoop& loop_;
  LoopConnContext ctx_;
  std::unordered_map<uint64_t, std::shared_ptr<LoopConn>> conns_;
  std::function<void()> onEmpty_;
  bool trim_ = true;
  bool trimArmed_ = false;
  int closesSinceTrim_ = 0;
};

}  // namespace netlab
