// RFC 862 echo: every byte comes back unchanged, until the client closes. With a codec, it
// echoes frame by frame: each decoded frame is encoded again with the same codec.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "netlab/codec/codec.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"

namespace netlab {

/// One injected pause, for showing what a stalled server does to latency figures: the first
/// message handled `atSec` after the server was built makes its thread sleep `forSec`
/// (under epoll that pauses the whole loop, as a GC pause or a slow disk would).
struct StallOnce {
  StallOnce(double atSec, double forSec);
  void maybeStall();
  int64_t atNs = 0, forNs = 0;
  std::atomic<bool> done{false};
};

struct EchoOptions {
  std::optional<double> stallAt;  // unset: never
  double stallFor = 0.5;
};
template <>
struct Fields<EchoOptions> {
  static const std::vector<Field<EchoOptions>>& fields();
};

class EchoProtocol final : public Protocol {
 public:
  EchoProtocol(const EchoOptions& options, std::shared_ptr<const Codec> codec);
  explicit EchoProtocol(std::shared_ptr<const Codec> codec = nullptr,
                        std::shared_ptr<StallOnce> stall = nullptr)
      : codec_(std::move(codec)), stall_(std::move(stall)) {}
  std::string_view name() const override { return "echo"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override;
  OptionMap optionValues() const override { return valuesOf(options_); }

 private:
  std::shared_ptr<const Codec> codec_;
  std::shared_ptr<StallOnce> stall_;
  EchoOptions options_;
};

}  // namespace netlab
