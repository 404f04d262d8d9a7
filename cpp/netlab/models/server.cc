#include "netlab/models/server.h"

#include <sys/socket.h>

#include <string>

#include "netlab/core/range_check.h"
#include "netlab/io/clock.h"
#include "netlab/io/fd_limit.h"
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
      addresses_(static_cast<size_t>(options_.maxConnectionsPerIp)),
      connectRate_(options_.connectRatePerIp, std::max(1.0, options_.connectRatePerIp)) {
  auto allow = parseCidrList(options_.allow);  // validate() has checked it
  if (allow.ok()) allow_ = std::move(allow.value());
  for (int64_t i = 0; i < options_.workers; ++i) counters_.push_back(std::make_unique<Counters>());
}

StatsSnapshot Server::sumCounters() const {
  StatsSnapshot s;
  for (const auto& c : counters_) c->addTo(s);
  s.connectionsActive = static_cast<uint64_t>(liveConnections_.load(std::memory_order_relaxed));
  return s;
}

Status Server::start(bool onThisThread) {
  if (running_) return Error{EALREADY, "server is already running"};
  // Every connection is a descriptor (two under threaded: the socket and its thread's wake-up
  // eventfd). Take what the hard limit allows; running out is then handled at accept time.
  (void)raiseFdLimit(0);
  ListenOptions lo{options_.host, static_cast<uint16_t>(options_.port),
                   static_cast<int>(options_.backlog), true};
  Result<Fd> fd = listenTcp(lo);
  if (!fd.ok()) return fd.error();
  Result<uint16_t> port = localPort(fd.value().get());
  if (!port.ok()) return port.error();
  listenFd_ = std::move(fd.value());
  port_ = port.value();
  Status s = protocol_->onServerStart();
  if (s.ok()) {
    s = startServing(onThisThread);
    if (!s.ok()) protocol_->onServerStop();
  }
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
  bool policy = !allow_.empty() || connectRate_.enabled();
  if (!addresses_.enabled() && !policy) return true;
  std::string peer = peerAddress(fd.get());
  if (!allow_.empty() && !inAny(allow_, peer)) {
    reject(std::move(fd), "address " + peer + " not allowed", counters, CloseKind::kDenied);
    return false;
  }
  double retryAfter = 0;
  if (connectRate_.enabled() && !connectRate_.admit(peer, nowNs(), retryAfter)) {
    reject(std::move(fd), "too many new connections from " + peer, counters, CloseKind::kDenied);
    return false;
  }
  if (!addresses_.enabled()) return true;
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

void Server::reject(Fd fd, std::string_view reason, Counters& counters, CloseKind kind) {
  std::string line = "error: " + std::string(reason) + "\n";
  // Best effort and never blocking: a refused client must not stall the acceptor.
  ::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  Counters::bump(counters.connectionsRejected);
  Counters::bump(counters.closes[static_cast<size_t>(kind)]);
  log_.add("rejected " + peerName(fd.get()) + ": " + std::string(reason));
}

namespace {
constexpr double kMaxCount = 10'000'000, kYear = 365 * 86400.0;
}  // namespace

const std::vector<Field<ServerOptions>>& Fields<ServerOptions>::fields() {
  using O = ServerOptions;
  static const std::vector<Field<O>> table = {
      text("host", &O::host, "address", "numeric address to bind, or localhost"),
      number("port", &O::port, 0, 65535, "", "TCP port", "(0 picks a free port)"),
      text("model", &O::model, "", "I/O model", modelNames()),
      number("workers", &O::workers, 1, 256, "", "event loops (epoll only); they share one port"),
      number("high_water", &O::highWater, 1024, 1 << 30, "bytes",
             "queued output past which a connection stops being read"),
      number("idle_timeout", &O::idleTimeoutSec, 0, kYear, "seconds",
             "close a connection with nothing read or written for this long", "(0: never)", true),
      number("message_timeout", &O::messageTimeoutSec, 0, kYear, "seconds",
             "a message must be complete this long after its first byte", "(0: never)", true),
      number("max_connections", &O::maxConnections, 0, kMaxCount, "",
             "connections past this are told 'server full' and closed (select: at most 900)",
             "(0: no limit)", true),
      number("max_connections_per_ip", &O::maxConnectionsPerIp, 0, kMaxCount, "",
             "connections one peer address may hold", "(0: no limit)", true),
      number("max_input_memory", &O::maxInputMemory, 64 << 10,
             static_cast<double>(int64_t{1} << 40), "bytes",
             "partial-message bytes all connections together may hold"),
      number("backlog", &O::backlog, 1, 65535, "", "listen backlog (capped by somaxconn)"),
      text("allow", &O::allow, "addresses",
           "addresses and blocks allowed to connect, separated by spaces or commas "
           "(127.0.0.0/8 ::1); others are refused (closes kind denied); empty: everyone"),
      number("connect_rate_per_ip", &O::connectRatePerIp, 0, 1e6, "connections/s",
             "new connections one address may open a second, in bursts of as many; past it "
             "they are refused (denied)",
             "(0: no limit)", true),
      flag("log_connections", &O::logEvents, "keep a line per connection event"),
  };
  return table;
}

Status validate(const ServerOptions& o, size_t socketsPerConnection) {
  Status fields = checkFields(o);
  if (!fields.ok()) return fields;
  const double selectMax = static_cast<double>(kSelectMaxConnections / socketsPerConnection);
  if (o.model == "select") {
    Status capped =
        checkRange("max_connections", static_cast<double>(o.maxConnections), 0, selectMax, "",
                   "for select, which cannot watch fds past FD_SETSIZE (0: the most "
                   "it can)");
    if (!capped.ok()) return capped;
  }
  if (o.workers > 1 && o.model != "epoll") {
    return Error{EINVAL,
                 "workers > 1 applies to the epoll model only (model is '" + o.model + "')"};
  }
  auto allow = parseCidrList(o.allow);
  if (!allow.ok()) return Error{EINVAL, "allow: " + allow.error().message};
  return {};
}

Result<std::unique_ptr<Server>> makeServer(std::shared_ptr<Protocol> protocol,
                                           const ServerOptions& o) {
  Status valid = validate(o, protocol->socketsPerConnection());
  if (!valid.ok()) return valid.error();
  // validate() has checked the model against modelNames() (the options table).
  if (o.model == "threaded") {
    return std::unique_ptr<Server>(std::make_unique<ThreadedServer>(std::move(protocol), o));
  }
  return std::unique_ptr<Server>(std::make_unique<LoopServer>(std::move(protocol), o));
}

}  // namespace netlab
