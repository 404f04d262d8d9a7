// The protocol side of netlab. A protocol is written once as a Handler and every I/O model
// drives it the same way: the model moves bytes, the handler decides what they mean.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "netlab/io/buffer.h"

namespace netlab {

/// A thread-safe way to reach one connection from any thread: what a chat room holds of
/// its members. Implemented by each I/O model.
class Outlet {
 public:
  virtual ~Outlet() = default;
  /// Queues one message for the peer. False when the connection has closed, or was dropped
  /// because its queued output passed the protocol's bound (a slow consumer).
  virtual bool deliver(std::string_view data) = 0;
};

/// What a handler may do to its own connection. Implemented by each I/O model.
class Conn {
 public:
  virtual ~Conn() = default;
  /// Queues one message for the peer. Loop models never block here (backpressure pauses reading
  /// instead); the threaded model writes before returning, as a blocking server does.
  virtual void send(std::string_view data) = 0;
  /// Stops reading; closes once everything queued has been written.
  virtual void closeAfterFlush() = 0;
  /// A protocol error: counted, then closeAfterFlush(). Send the error text first.
  virtual void fail(std::string_view reason) = 0;
  /// Asked by a handler before it handles each message of a batch. False when this connection
  /// has had its share of the current loop turn (a bounded number of messages, or its queued
  /// output is past the high-water mark): the handler stops there, leaves the rest in its
  /// input, and is called again once the other connections have been served or the peer has
  /// read its replies. So a client that asks for more than it reads is paused, not served at
  /// everyone else's expense.
  virtual bool budgetLeft() { return true; }
  virtual uint64_t id() const = 0;
  virtual const std::string& peer() const = 0;
  /// This connection as other connections' handlers may reach it, from any thread.
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
  /// `reason` says why ("closed", "too slow: ...", "server stopping", an errno text).
  virtual void onClose(Conn&, std::string_view /*reason*/) {}
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
};

}  // namespace netlab
