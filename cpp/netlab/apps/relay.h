// A TCP port forwarder (muduo's tunnel example, HAProxy's TCP mode): every client gets its own
// connection to the target, and bytes flow both ways. Each direction's backpressure pauses
// reading on the other side, a half-close is passed on, and a target that refuses or does not
// answer closes the client with the typed reason. The smallest program that uses the whole
// handler surface: two connections, each pausing the other.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "netlab/core/handler.h"

namespace netlab {

struct RelayOptions {
  std::string targetHost = "127.0.0.1";
  uint16_t targetPort = 0;
  double connectTimeoutSec = 5;
};

class RelayProtocol final : public Protocol {
 public:
  explicit RelayProtocol(RelayOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return "relay"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t socketsPerConnection() const override { return 2; }
  const RelayOptions& options() const { return options_; }

 private:
  RelayOptions options_;
};

}  // namespace netlab
