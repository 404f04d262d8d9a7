// A TCP port forwarder (muduo's tunnel example, HAProxy's TCP mode): every client gets its own
// connection to the target, and bytes flow both ways. Each direction's backpressure pauses
// reading on the other side, a half-close is passed on, and a target that refuses or does not
// answer closes the client with the typed reason. The smallest program that uses the whole
// handler surface: two connections, each pausing the other.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "netlab/core/handler.h"
#include "netlab/core/options.h"
#include "netlab/io/result.h"

namespace netlab {

struct RelayOptions {
  /// "host:port" ("[::1]:8080" for IPv6; ":8080" is 127.0.0.1); required.
  std::string target;
  double connectTimeoutSec = 5;
};

template <>
struct Fields<RelayOptions> {
  static const std::vector<Field<RelayOptions>>& fields();
};
/// The target's form, beyond its field's type.
Status validate(const RelayOptions& options);

/// A "host:port" target split, or an EINVAL Error that says what is wrong with it.
Result<std::pair<std::string, uint16_t>> parseTarget(std::string_view target);

class RelayProtocol final : public Protocol {
 public:
  /// `options` must have passed validate(); the target is split once here.
  explicit RelayProtocol(RelayOptions options);
  std::string_view name() const override { return "relay"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t socketsPerConnection() const override { return 2; }
  const RelayOptions& options() const { return options_; }
  OptionMap optionValues() const override { return valuesOf(options_); }
  const std::string& targetHost() const { return targetHost_; }
  uint16_t targetPort() const { return targetPort_; }

 private:
  RelayOptions options_;
  std::string targetHost_;
  uint16_t targetPort_ = 0;
};

}  // namespace netlab
