// RFC 862 echo: every byte comes back unchanged, until the client closes.
#pragma once

#include <memory>

#include "netlab/core/handler.h"

namespace netlab {

class EchoProtocol final : public Protocol {
 public:
  std::string_view name() const override { return "echo"; }
  std::unique_ptr<Handler> newHandler() override;
};

}  // namespace netlab
