// What a load run does: the target, the scenario, how hard and for how long.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netlab/codec/codec.h"
#include "netlab/core/options.h"
#include "netlab/io/result.h"

namespace netlab {

/// The scenarios a load run can speak.
inline const std::vector<std::string>& scenarioNames() {
  static const std::vector<std::string> names = {"echo", "line", "framed", "connect",
                                                 "chat", "http", "log",    "syslog"};
  return names;
}

/// Defaults here; names, ranges and help in Fields<LoadConfig> (load_config.cc), which Python
/// and the CLI read.
struct LoadConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  /// echo | line | framed | connect | chat | http | log | syslog
  std::string scenario = "echo";
  /// chat: connections are spread over this many rooms (room0, room1, ...).
  int rooms = 1;
  int connections = 100;
  /// Connections opened before the run and held without traffic throughout it (the C10K
  /// experiment's idle crowd); the result counts those the server dropped.
  int idleConnections = 0;
  int threads = 2;
  /// Wall-clock limit in seconds; 0 means none (then `requests` must be set).
  double durationSec = 10;
  /// Request budget; 0 means none. A failed connection attempt uses one request of it, so a
  /// run against a dead server still ends.
  uint64_t requests = 0;
  /// Total requests per second, spread evenly over the connections (open loop, wrk2-style);
  /// 0 means closed loop.
  double rate = 0;
  /// Requests in flight per connection.
  int pipeline = 1;
  /// Closed loop: pause between a response and the connection's next request.
  double thinkTimeSec = 0;
  /// New connections per second during ramp-up; 0 means as fast as the engine allows
  /// (at most kMaxConnectsInFlight per thread at a time).
  double connectRate = 0;
  double connectTimeoutSec = 5;
  double responseTimeoutSec = 10;
  /// echo and connect: payload bytes per request (when `request` is empty); log: message
  /// bytes; syslog: bytes per message, header included.
  size_t size = 64;
  /// line: the request line (without "\n"); framed and connect: the payload.
  std::string request;
  /// The expected response (line: the line; framed: the payload; connect: the bytes).
  /// Unset: echo, framed and connect expect their request back; line accepts any line.
  std::optional<std::string> expect;
  /// framed: the codec for requests and responses (an object, so not in the option table).
  std::shared_ptr<const Codec> codec;
  /// A response larger than this is a protocol error (bounds the client's memory).
  size_t maxResponse = 1 << 20;
  /// http: the request method, its targets (separated by spaces, used in turn), extra header
  /// lines ("Name: value", one per line), body, and whether connections are kept alive.
  /// syslog: octet (RFC 6587 octet counting) or lf (a message per line).
  std::string framing = "octet";
  std::string method = "GET";
  std::string path = "/";
  std::string headers;
  std::string body;
  bool keepAlive = true;

  static constexpr int kMaxConnectsInFlight = 256;
};

template <>
struct Fields<LoadConfig> {
  static const std::vector<Field<LoadConfig>>& fields();
};

/// Checks ranges and combinations; the message names the offending option.
/// `runEnds`: a load run needs a duration or a request count; a client that runs until it is
/// shut down (the async client) does not.
Status validate(const LoadConfig& config, bool runEnds = true);

}  // namespace netlab
