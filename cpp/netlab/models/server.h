// A server is a Protocol driven by one I/O model. This is the one interface the bindings see.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "netlab/core/cidr.h"
#include "netlab/core/counters.h"
#include "netlab/core/event_log.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"
#include "netlab/core/rate_limiter.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"
#include "netlab/models/address_limiter.h"
#include "netlab/models/server_options.h"

namespace netlab {

/// The I/O models, in the order they are documented.
const std::vector<std::string>& modelNames();

class LoopConnections;

class Server {
 public:
  Server(std::shared_ptr<Protocol> protocol, ServerOptions options);
  virtual ~Server() = default;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and listens, then serves on native threads. The port accepts once this returns.
  Status start() { return start(false); }
  /// As start(), but with `onThisThread` and a loop model with one worker no thread is
  /// started: serveHere() runs the loop on the caller's thread, which keeps the process
  /// single-threaded (every system call on a socket is cheaper then: the kernel skips the
  /// file reference counting a multi-threaded process needs). Other models start threads.
  Status start(bool onThisThread);
  /// Whether start(true) left the serving to serveHere().
  virtual bool servesHere() const { return false; }
  /// Serves on the calling thread for at most `seconds`, returning early when a signal
  /// arrives or the server stops. Does nothing for a server that serves on its own threads.
  virtual Status serveHere(double seconds) {
    (void)seconds;
    return {};
  }
  /// Idempotent: stops every thread, closes every connection and the listening socket.
  virtual void stop() = 0;
  bool running() const { return running_; }
  uint16_t port() const { return port_; }
  const ServerOptions& options() const { return options_; }
  std::string_view protocolName() const { return protocol_->name(); }
  const Protocol& protocol() const { return *protocol_; }
  std::shared_ptr<Protocol> protocolPtr() const { return protocol_; }

  StatsSnapshot stats() const { return sumCounters(); }
  /// Threads serving right now (loop threads, or one per connection plus the acceptor).
  virtual size_t threads() const = 0;
  std::vector<std::string> drainEvents() { return log_.drain(); }

 protected:
  friend class LoopConnections;
  virtual Status startServing(bool onThisThread) = 0;
  /// The admission checks every model makes (the connection limit, then the per-address
  /// one); a refused client is told why and closed. `address` is set when it holds a slot of
  /// the per-address limit, to be given back with releaseAddress() when it closes.
  bool admit(Fd& fd, Counters& counters, std::string& address);
  void releaseAddress(const std::string& address);
  /// Tells the peer why and closes: the refusal every model gives when it cannot take a client.
  void reject(Fd fd, std::string_view reason, Counters& counters,
              CloseKind kind = CloseKind::kServerFull);
  size_t effectiveMaxConnections() const;

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
  /// Bytes held in partial messages by all connections (bounded by maxInputMemory).
  std::atomic<int64_t> heldInput_{0};
  AddressLimiter addresses_;
  std::vector<Cidr> allow_;  // empty: everyone
  RateLimiter connectRate_;
};

/// Validates the options and builds the server for options.model; nothing listens yet.
Result<std::unique_ptr<Server>> makeServer(std::shared_ptr<Protocol> protocol,
                                           const ServerOptions& options);

}  // namespace netlab
