#include "netlab/models/loop_connections.h"

#include "netlab/io/clock.h"
#include "netlab/io/memory.h"
#include "netlab/io/socket.h"
#include "netlab/models/server.h"

namespace netlab {

LoopConnections::LoopConnections(Server& server, EventLoop& loop, Counters& counters)
    : server_(server),
      loop_(loop),
      ctx_{loop,
           counters,
           server.liveConnections_,
           server.heldInput_,
           server.options_,
           server.log_,
           server.protocol_->maxPendingInput(),
           server.protocol_->maxQueuedOutput(),
           [this](uint64_t id, const std::string& address) { dropConnection(id, address); },
           [this](std::unique_ptr<Handler> handler, const std::string& host, uint16_t port,
                  double timeoutSec) { connectOut(std::move(handler), host, port, timeoutSec); }} {
  StreamOptions& options = ctx_.streamOptions;
  options.highWater = static_cast<size_t>(server.options_.highWater);
  options.maxQueuedOutput = ctx_.maxQueuedOutput;
  options.idleTimeoutNs = static_cast<int64_t>(server.options_.idleTimeoutSec * kNsPerSec);
  options.bytesIn = &counters.bytesIn;
  options.bytesOut = &counters.bytesOut;
  options.reads = &counters.reads;
  options.writes = &counters.writes;
  options.countersOwned = !counters.shared;
}

LoopConnections::~LoopConnections() = default;

bool LoopConnections::adopt(Fd fd, const std::string& address) {
  setNoDelay(fd.get());
  uint64_t id = server_.nextConnId_.fetch_add(1, std::memory_order_relaxed);
  auto conn = std::make_shared<LoopConn>(ctx_, id, address, server_.protocol_->newHandler());
  conns_.emplace(id, conn);
  if (conn->open(std::move(fd))) return true;
  conns_.erase(id);
  server_.releaseAddress(address);
  Counters::bump(ctx_.counters.errors);
  return false;
}

void LoopConnections::connectOut(std::unique_ptr<Handler> handler, const std::string& host,
                                 uint16_t port, double timeoutSec) {
  uint64_t id = server_.nextConnId_.fetch_add(1, std::memory_order_relaxed);
  auto conn = std::make_shared<LoopConn>(ctx_, id, "", std::move(handler), /*outbound=*/true);
  conns_.emplace(id, conn);
  std::string target = host.find(':') != std::string::npos
                           ? "[" + host + "]:" + std::to_string(port)
                           : host + ":" + std::to_string(port);
  Result<Endpoint> endpoint = resolveEndpoint(host, port);
  if (!endpoint.ok()) {
    // Told on the next pass, as a refused connect would be, never inside connect().
    Error e = endpoint.error();
    loop_.defer([conn, e] {
      conn->closeNow({CloseKind::kUnreachable, e.code, "connect to " + e.message});
    });
    return;
  }
  conn->connectTo(endpoint.value(), static_cast<int64_t>(timeoutSec * kNsPerSec), target);
}

void LoopConnections::closeAll(const CloseReason& reason) {
  // A handler told of its close may open or close others: repeat until none is left.
  for (int round = 0; round < 8 && !conns_.empty(); ++round) {
    auto conns = conns_;
    for (auto& entry : conns) entry.second->closeNow(reason);
  }
}

void LoopConnections::dropConnection(uint64_t id, const std::string& address) {
  server_.releaseAddress(address);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  loop_.destroyLater(it->second);
  conns_.erase(it);
  if (trim_ && ++closesSinceTrim_ >= kTrimAfterCloses) trimSoon();
  if (conns_.empty() && onEmpty_) onEmpty_();
}

// Closed connections' buffers go back to the allocator, which keeps them; a second later,
// once a wave of closes has passed, the process gives them back to the system.
void LoopConnections::trimSoon() {
  if (trimArmed_) return;
  trimArmed_ = true;
  loop_.runAt(nowNs() + kNsPerSec, [this] {
    trimArmed_ = false;
    closesSinceTrim_ = 0;
    returnFreedMemory();
  });
}

}  // namespace netlab
