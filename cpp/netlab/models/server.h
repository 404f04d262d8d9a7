// A server is a Protocol driven by one I/O model. This is the one interface the bindings see.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "netlab/core/counters.h"
#include "netlab/core/event_log.h"
#include "netlab/core/handler.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string model = "epoll";
  int workers = 1;
  /// Queued output past which a connection stops being read (muduo's high-water mark).
  size_t highWater = 1 << 20;
  /// Close a connection silent for this long; 0 keeps idle connections forever.
  double idleTimeoutSec = 0;
  /// Connections past this are told "server full" and closed; 0 means no limit but the fds.
  size_t maxConnections = 0;
  int backlog = 4096;
  bool logEvents = false;
};

/// The I/O models, in the order they are documented.
const std::vector<std::string>& modelNames();

class Server {
 public:
  Server(std::shared_ptr<Protocol> protocol, ServerOptions options);
  virtual ~Server() = default;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and listens, then serves on native threads. The port accepts once this returns.
  Status start();
  /// Idempotent: stops every thread, closes every connection and the listening socket.
  virtual void stop() = 0;
  bool running() const { return running_; }
  uint16_t port() const { return port_; }
  const ServerOptions& options() const { return options_; }
  std::string_view protocolName() const { return protocol_->name(); }

  StatsSnapshot stats() const { return sumCounters(); }
  /// Threads serving right now (loop threads, or one per connection plus the acceptor).
  virtual size_t threads() const = 0;
  std::vector<std::string> drainEvents() { return log_.drain(); }

 protected:
  virtual Status startServing() = 0;
  bool atConnectionLimit() const;
  /// Tells the peer why and closes: the refusal every model gives when it cannot take a client.
  void reject(Fd fd, std::string_view reason, Counters& counters);

  /// Sums every thread's counters; they outlive stop() so final figures stay readable.
  StatsSnapshot sumCounters() const;

  std::shared_ptr<Protocol> protocol_;
  ServerOptions options_;
  /// One per loop thread (only one for the threaded model); sized once, never reallocated.
  std::vector<std::unique_ptr<Counters>> counters_;
  EventLog log_;
  Fd listenFd_;
  uint16_t port_ = 0;
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> nextConnId_{1};
  std::atomic<int64_t> liveConnections_{0};
};

/// Validates the options and builds the server for options.model; nothing listens yet.
Result<std::unique_ptr<Server>> makeServer(std::shared_ptr<Protocol> protocol,
                                           const ServerOptions& options);

}  // namespace netlab
