#include "netlab/models/server.h"

#include <sys/socket.h>

#include <string>

#include "netlab/io/socket.h"
#include "netlab/models/loop_server.h"
#include "netlab/models/threaded_server.h"

namespace netlab {

const std::vector<std::string>& modelNames() {
  static const std::vector<std::string> names = {"epoll", "threaded", "select"};
  return names;
}

Server::Server(std::shared_ptr<Protocol> protocol, ServerOptions options)
    : protocol_(std::move(protocol)), options_(std::move(options)), log_(options_.logEvents) {
  for (int i = 0; i < options_.workers; ++i) counters_.push_back(std::make_unique<Counters>());
}

StatsSnapshot Server::sumCounters() const {
  StatsSnapshot s;
  for (const auto& c : counters_) c->addTo(s);
  s.connectionsActive = static_cast<uint64_t>(liveConnections_.load(std::memory_order_relaxed));
  return s;
}

Status Server::start() {
  if (running_) return Error{EALREADY, "server is already running"};
  ListenOptions lo{options_.host, options_.port, options_.backlog, true};
  Result<Fd> fd = listenTcp(lo);
  if (!fd.ok()) return fd.error();
  Result<uint16_t> port = localPort(fd.value().get());
  if (!port.ok()) return port.error();
  listenFd_ = std::move(fd.value());
  port_ = port.value();
  Status s = startServing();
  if (!s.ok()) {
    listenFd_.reset();
    return s;
  }
  running_ = true;
  return {};
}

bool Server::atConnectionLimit() const {
  return options_.maxConnections > 0 &&
         liveConnections_.load(std::memory_order_relaxed) >=
             static_cast<int64_t>(options_.maxConnections);
}

void Server::reject(Fd fd, std::string_view reason, Counters& counters) {
  std::string line = "error: " + std::string(reason) + "\n";
  // Best effort and never blocking: a refused client must not stall the acceptor.
  ::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  Counters::bump(counters.connectionsRejected);
  log_.add("rejected " + peerName(fd.get()) + ": " + std::string(reason));
}

Result<std::unique_ptr<Server>> makeServer(std::shared_ptr<Protocol> protocol,
                                           const ServerOptions& o) {
  if (o.workers < 1) return Error{EINVAL, "workers must be at least 1"};
  if (o.workers > 1 && o.model != "epoll") {
    return Error{EINVAL, "workers > 1 applies to the epoll model only (model is '" + o.model + "')"};
  }
  if (o.highWater < 1024) return Error{EINVAL, "high_water must be at least 1024 bytes"};
  if (o.idleTimeoutSec < 0) return Error{EINVAL, "idle_timeout must not be negative"};
  if (o.model == "epoll" || o.model == "select") {
    return std::unique_ptr<Server>(std::make_unique<LoopServer>(std::move(protocol), o));
  }
  if (o.model == "threaded") {
    return std::unique_ptr<Server>(std::make_unique<ThreadedServer>(std::move(protocol), o));
  }
  std::string valid;
  for (const auto& name : modelNames()) valid += (valid.empty() ? "" : ", ") + name;
  return Error{EINVAL, "unknown model '" + o.model + "'; valid models: " + valid};
}

}  // namespace netlab
