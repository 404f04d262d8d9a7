#include "netlab/load/load_config.h"

#include <cerrno>

namespace netlab {
namespace {

Error invalid(const std::string& message) { return Error{EINVAL, message}; }

}  // namespace

Status validate(const LoadConfig& c) {
  if (c.port == 0) return invalid("port must be 1..65535");
  if (c.connections < 1) return invalid("connections must be at least 1");
  if (c.threads < 1 || c.threads > 256) return invalid("threads must be 1..256");
  if (c.durationSec < 0) return invalid("duration must not be negative");
  if (c.durationSec == 0 && c.requests == 0) {
    return invalid("give a duration or a request count, or the run would never end");
  }
  if (c.rate < 0) return invalid("rate must not be negative");
  if (c.pipeline < 1 || c.pipeline > 1024) return invalid("pipeline must be 1..1024");
  if (c.thinkTimeSec < 0) return invalid("think_time must not be negative");
  if (c.thinkTimeSec > 0 && c.rate > 0) return invalid("think_time applies to closed loop only");
  if (c.connectRate < 0) return invalid("connect_rate must not be negative");
  if (c.connectTimeoutSec <= 0 || c.responseTimeoutSec <= 0) {
    return invalid("timeouts must be positive");
  }
  if (c.size == 0 || c.size > c.maxResponse) {
    return invalid("size must be 1.." + std::to_string(c.maxResponse) + " bytes");
  }
  if (c.scenario == "chat") {
    if (c.rate <= 0) return invalid("the chat scenario needs a send rate (rate=messages/s in total)");
    if (c.durationSec <= 0) return invalid("the chat scenario runs for a duration");
    if (c.requests > 0) return invalid("the chat scenario runs for a duration, not a request count");
    if (c.rooms < 1 || c.rooms > c.connections) return invalid("rooms must be 1..connections");
    if (c.size < 32) return invalid("chat messages need at least 32 bytes for their timestamps");
  }
  if (c.scenario == "line" && c.request.find('\n') != std::string::npos) {
    return invalid("the request line must not contain a newline");
  }
  if (c.scenario == "framed" && c.codec) {
    std::string wire;
    FrameError error;
    std::string payload = c.request.empty() ? std::string(c.size, 'x') : c.request;
    if (!c.codec->encode(FrameView{payload}, wire, error)) {
      return invalid("the request cannot be framed: " + error.message);
    }
  }
  return {};
}

}  // namespace netlab
