// What a server is configured with, under every model: written once here (defaults) and in
// its table (server.cc: names, ranges, help), read by Python, the CLI and the models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "netlab/core/options.h"
#include "netlab/io/result.h"

namespace netlab {

/// Defaults keep a server on the open internet alive: a silent or drip-feeding client is
/// closed, and input held in partial messages has a server-wide bound.
struct ServerOptions {
  std::string host = "127.0.0.1";
  int64_t port = 12345;
  std::string model = "epoll";
  int64_t workers = 1;
  /// Queued output past which a connection stops being read (muduo's high-water mark).
  int64_t highWater = 1 << 20;
  /// Close a connection with nothing read or written for this long; 0 keeps it forever.
  double idleTimeoutSec = 300;
  /// A message must be complete this long after its first byte arrived (nginx's
  /// client_header_timeout), so a client that drips a byte at a time cannot hold a slot.
  /// 0: no limit.
  double messageTimeoutSec = 30;
  /// Connections past this are told "server full" and closed; 0 means no limit but the fds
  /// (select: at most kSelectMaxConnections, below FD_SETSIZE).
  int64_t maxConnections = 0;
  /// Connections one peer address may hold at once; 0: no limit.
  int64_t maxConnectionsPerIp = 0;
  /// Bytes all connections together may hold in partial (incomplete) messages; a connection
  /// whose partial message would take the total past it is closed.
  int64_t maxInputMemory = 64 << 20;
  int64_t backlog = 4096;
  /// Addresses and blocks allowed to connect ("127.0.0.0/8 ::1"); empty: everyone.
  std::string allow;
  /// New connections one address may open a second (bursts of as many); 0: no limit.
  double connectRatePerIp = 0;
  bool logEvents = false;
};

/// The table every option's name, range and help come from (server.cc).
template <>
struct Fields<ServerOptions> {
  static const std::vector<Field<ServerOptions>>& fields();
};

/// select() cannot watch fds >= FD_SETSIZE (1024); this leaves room for the process's own.
constexpr int64_t kSelectMaxConnections = 900;

/// Checks every option's range; the message names the option and what it may be.
/// `socketsPerConnection` (a relay's 2) divides select's connection cap.
Status validate(const ServerOptions& options, size_t socketsPerConnection = 1);

}  // namespace netlab
