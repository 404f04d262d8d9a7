// The protocol side of netlab. A protocol is written once as a Handler and every I/O model
// drives it the same way: the model moves bytes, the handler decides what they mean.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "netlab/core/close_reason.h"
#include "netlab/core/options.h"
#include "netlab/io/buffer.h"
#include "netlab/io/result.h"

namespace netlab {

/// A thread-safe way to reach one connection from any thread: what a chat room holds of
/// its members. Implemented by each I/O model.
class Conn;

class Outlet {
 public:
  virtual ~Outlet() = default;
  /// Queues one message for the peer. False when the connection has closed, or was dropped
  /// because its queued output passed the protocol's bound (a slow consumer).
  virtual bool deliver(std::string_view data) = 0;
  /// Runs `task` on the connection's own thread, with the connection, if it is still open
  /// then: how a worker thread (a disk writer, a resolver) hands a result back. False when
  /// the connection has closed or its loop's queue is full.
  virtual bool post(std::function<void(Conn&)> task) = 0;
};

class Handler;

/// What a handler may do to its own connection, the same under every I/O model. Implemented
/// by the models; every call is made on the connection's own thread.
class Conn {
 public:
  using TimerHandle = uint64_t;

  virtual ~Conn() = default;
  /// Queues bytes for the peer; never blocks. Written once the handler returns (one write
  /// for all of a batch's replies). Past the high-water mark reading pauses until the peer
  /// has read half of it (and the handler hears onHighWater / onDrained).
  virtual void send(std::string_view data) = 0;
  /// Queues `length` bytes of the open file `fd` from `offset`, sent with sendfile(2) as the
  /// socket takes them, never read into memory. The connection keeps its own duplicate of
  /// fd. A file shorter than the range closes the connection with an I/O error.
  virtual bool sendFile(int fd, int64_t offset, int64_t length) = 0;
  /// Bytes queued and not yet written (file ranges included).
  virtual size_t queuedOutput() const = 0;
  /// Stops and restarts reading: a relay pauses one side while the other cannot keep up.
  virtual void pauseReading() = 0;
  virtual void resumeReading() = 0;
  /// Half-close: the peer reads end of stream once everything queued is written; this side
  /// still reads.
  virtual void shutdownWrite() = 0;
  /// Stops reading; closes once everything queued has been written.
  virtual void closeAfterFlush() = 0;
  /// Closes now with `reason`, dropping queued output.
  virtual void close(CloseReason reason) = 0;
  /// A protocol error: counted, then closed (kind protocol_error) once what is queued, such
  /// as the error text sent first, has been written.
  virtual void fail(std::string_view reason) = 0;
  /// Asked by a handler before it handles each message of a batch. False when this connection
  /// has had its share of the current loop turn (a bounded number of messages, or its queued
  /// output is past the high-water mark): the handler stops there, leaves the rest in its
  /// input, and is called again once the other connections have been served or the peer has
  /// read its replies. So a client that asks for more than it reads is paused, not served at
  /// everyone else's expense.
  virtual bool budgetLeft() { return true; }
  /// Runs `task` on this connection's thread after `seconds`; cancelled when it closes.
  virtual TimerHandle runAfter(double seconds, std::function<void()> task) = 0;
  virtual bool cancelTimer(TimerHandle timer) = 0;
  /// Opens an outbound connection to host:port (a numeric address or a name in /etc/hosts;
  /// other names are resolved on this thread). `handler` serves it on this connection's
  /// thread: onOpen once connected, or onClose alone with kind refused, unreachable,
  /// connect_timeout, no_fds or no_ports. It closes with "server stopping" on stop().
  virtual void connect(const std::string& host, uint16_t port, double timeoutSec,
                       std::unique_ptr<Handler> handler) = 0;
  /// True when this connection's thread serves only it and the connections it opened, and
  /// ends once they have all closed (the threaded model): anything it leaves open, such as
  /// an idle pooled upstream connection, would keep that thread alive.
  virtual bool threadPerClient() const { return false; }
  virtual uint64_t id() const = 0;
  virtual const std::string& peer() const = 0;
  /// This connection as other threads may reach it (deliver, post).
  virtual std::shared_ptr<Outlet> outlet() = 0;
};

/// One connection's protocol state; created by a Protocol for each accepted connection and
/// only ever called on that connection's thread.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void onOpen(Conn&) {}
  /// Consumes every complete message at the front of `input`, leaving a partial one in place.
  /// Returns how many messages it consumed.
  virtual size_t onData(Conn& conn, Buffer& input) = 0;
  /// The peer finished sending (half-close). Return true to keep the connection open for
  /// writing (a relay passes the half-close on); by default it closes once everything
  /// queued has been written.
  virtual bool onEof(Conn&) { return false; }
  /// Everything queued has been written.
  virtual void onDrained(Conn&) {}
  /// Queued output reached the high-water mark (reading on this connection pauses until the
  /// peer has read half of it).
  virtual void onHighWater(Conn&, size_t /*queued*/) {}
  /// The last call, on the connection's thread: why it ended, as a kind and a text.
  virtual void onClose(Conn&, const CloseReason&) {}
};

/// A server application: makes handlers. Shared by all of a server's threads.
class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual std::string_view name() const = 0;
  virtual std::unique_ptr<Handler> newHandler() = 0;
  /// Most unconsumed input a connection may hold (e.g. one maximal line); past it the
  /// connection is closed, so a peer cannot grow server memory without bound.
  virtual size_t maxPendingInput() const { return 1 << 20; }
  /// Output a connection may have queued before it is dropped as a slow consumer; 0 means
  /// never drop (the model's backpressure pauses reading instead). Relayed messages need
  /// this: pausing the reader cannot slow down the other members of a room.
  virtual size_t maxQueuedOutput() const { return 0; }
  /// Sockets one client costs (a relay's client and its target: 2), for select's fd cap.
  virtual size_t socketsPerConnection() const { return 1; }
  /// The app's options as it runs with them, by name (read back by stats and tests).
  virtual OptionMap optionValues() const { return {}; }
  /// The server is about to serve: work the protocol does on its own, not for a client (the
  /// proxy's active health checks), starts here. An Error stops the start.
  virtual Status onServerStart() { return {}; }
  /// The server has stopped serving and closed every connection; undoes onServerStart().
  virtual void onServerStop() {}
};

}  // namespace netlab
