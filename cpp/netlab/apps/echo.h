// RFC 862 echo: every byte comes back unchanged, until the client closes. With a codec, it
// echoes frame by frame: each decoded frame is encoded again with the same codec.
#pragma once

#include <memory>

#include "netlab/codec/codec.h"
#include "netlab/core/handler.h"

namespace netlab {

class EchoProtocol final : public Protocol {
 public:
  explicit EchoProtocol(std::shared_ptr<const Codec> codec = nullptr) : codec_(std::move(codec)) {}
  std::string_view name() const override { return "echo"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override;

 private:
  std::shared_ptr<const Codec> codec_;
};

}  // namespace netlab
