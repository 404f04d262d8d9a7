// The classic ping-pong line protocol: "ping" gets "pong", anything else is acknowledged.
#pragma once

#include <cstddef>
#include <memory>

#include "netlab/codec/codec.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"

namespace netlab {

struct PingPongOptions {
  int64_t maxLine = 64 * 1024;
};
template <>
struct Fields<PingPongOptions> {
  static const std::vector<Field<PingPongOptions>>& fields();
};

class PingPongProtocol final : public Protocol {
 public:
  static constexpr size_t kDefaultMaxLine = 64 * 1024;

  explicit PingPongProtocol(size_t maxLine = kDefaultMaxLine);
  explicit PingPongProtocol(const PingPongOptions& options)
      : PingPongProtocol(static_cast<size_t>(options.maxLine)) {}
  OptionMap optionValues() const override {
    return valuesOf(PingPongOptions{static_cast<int64_t>(maxLine_)});
  }
  std::string_view name() const override { return "pingpong"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override { return lines_->maxWireFrame(); }
  size_t maxLine() const { return maxLine_; }

 private:
  size_t maxLine_;
  std::shared_ptr<const Codec> lines_;
};

}  // namespace netlab
