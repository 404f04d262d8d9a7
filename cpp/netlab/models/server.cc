#include "netlab/models/server.h"

#include <sys/socket.h>

#include <string>

#include "netlab/core/range_check.h"
#include "netlab/io/socket.h"
#include "netlab/models/loop_server.h"
#include "netlab/models/threaded_server.h"

namespace netlab {

const std::vector<std::string>& modelNames() {
  static const std::vector<std::string> names = {"epoll", "threaded", "select", "poll"};
  return names;
}

Server::Server(std::shared_ptr<Protocol> protocol, ServerOptions options)
    : protocol_(std::move(protocol)),
      options_(std::move(options)),
      log_(options_.logEvents),
      addresses_(static_cast<size_t>(options_.maxConnectionsPerIp)) {
  for (int64_t i = 0; i < options_.workers; ++i) counters_.push_back(std::make_unique<Counters>());
}

StatsSnapshot Server::sumCounters() const {
  StatsSnapshot s;
  for (const auto& c : counters_) c->addTo(s);
  s.connectionsActive = static_cast<uint64_t>(liveConnections_.load(std::memory_order_relaxed));
  return s;
}

Status Server::start() {
  if (running_) return Error{EALREADY, "server is already running"};
  ListenOptions lo{options_.host, static_cast<uint16_t>(options_.port),
                   static_cast<int>(options_.backlog), true};
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

size_t Server::effectiveMaxConnections() const {
  if (options_.model == "select" && options_.maxConnections == 0)
    return kSelectMaxConnections / protocol_->socketsPerConnection();
  return static_cast<size_t>(options_.maxConnections);
}

bool Server::admit(Fd& fd, Counters& counters, std::string& address) {
  size_t limit = effectiveMaxConnections();
  if (limit > 0 &&
      liveConnections_.load(std::memory_order_relaxed) >= static_cast<int64_t>(limit)) {
    reject(std::move(fd), "server full", counters);
    return false;
  }
  if (!addresses_.enabled()) return true;
  std::string peer = peerAddress(fd.get());
  if (!addresses_.acquire(peer)) {
    reject(std::move(fd),
           "too many connections from " + peer + " (at most " +
               std::to_string(addresses_.perAddress()) + " per address)",
           counters);
    return false;
  }
  address = std::move(peer);
  return true;
}

void Server::releaseAddress(const std::string& address) {
  if (!address.empty()) addresses_.release(address);
}

void Server::reject(Fd fd, std::string_view reason, Counters& counters) {
  std::string line = "error: " + std::string(reason) + "\n";
  // Best effort and never blocking: a refused client must not stall the acceptor.
  ::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  Counters::bump(counters.connectionsRejected);
  Counters::bump(counters.closes[static_cast<size_t>(CloseKind::kServerFull)]);
  log_.add("rejected " + peerName(fd.get()) + ": " + std::string(reason));
}

Status validate(const ServerOptions& o, size_t socketsPerConnection) {
  constexpr double kMaxCount = 10'000'000, kYear = 365 * 86400.0;
  bool select = o.model == "select";
  const double selectMax = static_cast<double>(kSelectMaxConnections / socketsPerConnection);
  const Status checks[] = {
      checkRange("port", o.port, 0, 65535, "", "(0 picks a free port)"),
      checkRange("workers", o.workers, 1, 256),
      checkRange("high_water", o.highWater, 1024, 1 << 30, "bytes"),
      checkRange("idle_timeout", o.idleTimeoutSec, 0, kYear, "seconds", "(0: never)"),
      checkRange("message_timeout", o.messageTimeoutSec, 0, kYear, "seconds", "(0: never)"),
      checkRange("max_connections", o.maxConnections, 0, select ? selectMax : kMaxCount, "",
                 select ? "for select, which cannot watch fds past FD_SETSIZE (0: the most it can)"
                        : "(0: no limit)"),
      checkRange("max_connections_per_ip", o.maxConnectionsPerIp, 0, kMaxCount, "",
                 "(0: no limit)"),
      checkRange("max_input_memory", o.maxInputMemory, 64 << 10,
                 static_cast<double>(int64_t{1} << 40), "bytes"),
      checkRange("backlog", o.backlog, 1, 65535),
  };
  for (const Status& status : checks) {
    if (!status.ok()) return status;
  }
  if (o.workers > 1 && o.model != "epoll") {
    return Error{EINVAL,
                 "workers > 1 applies to the epoll model only (model is '" + o.model + "')"};
  }
  return {};
}

Result<std::unique_ptr<Server>> makeServer(std::shared_ptr<Protocol> protocol,
                                           const ServerOptions& o) {
  Status valid = validate(o, protocol->socketsPerConnection());
  if (!valid.ok()) return valid.error();
  if (o.model == "epoll" || o.model == "select" || o.model == "poll") {
    return std::unique_ptr<Server>(std::make_unique<LoopServer>(std::move(protocol), o));
  }
  if (o.model == "threaded") {
    return std::unique_ptr<Server>(std::make_unique<ThreadedServer>(std::move(protocol), o));
  }
  std::string names;
  for (const auto& name : modelNames()) names += (names.empty() ? "" : ", ") + name;
  return Error{EINVAL, "unknown model '" + o.model + "'; valid models: " + names};
}

}  // namespace netlab
