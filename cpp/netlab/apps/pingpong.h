// The classic ping-pong line protocol: "ping" gets "pong", anything else is acknowledged.
#pragma once

#include <cstddef>
#include <memory>

#include "netlab/codec/codec.h"
#include "netlab/core/handler.h"

namespace netlab {

class PingPongProtocol final : public Protocol {
 public:
  static constexpr size_t kDefaultMaxLine = 64 * 1024;

  explicit PingPongProtocol(size_t maxLine = kDefaultMaxLine);
  std::string_view name() const override { return "pingpong"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override { return lines_->maxWireFrame(); }
  size_t maxLine() const { return maxLine_; }

 private:
  size_t maxLine_;
  std::shared_ptr<const Codec> lines_;
};

}  // namespace netlab
