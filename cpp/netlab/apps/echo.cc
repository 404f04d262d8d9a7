#include "netlab/apps/echo.h"

namespace netlab {
namespace {

// Without a codec a "message" is whatever one read returned: echo has no framing of its own.
class EchoHandler final : public Handler {
 public:
  size_t onData(Conn& conn, Buffer& input) override {
    if (input.empty()) return 0;
    conn.send(input.view());
    input.clear();
    return 1;
  }
};

}  // namespace

std::unique_ptr<Handler> EchoProtocol::newHandler() { return std::make_unique<EchoHandler>(); }

}  // namespace netlab
