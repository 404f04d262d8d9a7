#include "netlab/load/load_config.h"

#include <cerrno>

#include "netlab/core/range_check.h"

namespace netlab {
namespace {

Error invalid(const std::string& message) { return Error{EINVAL, message}; }

}  // namespace

Status validate(const LoadConfig& c, bool runEnds) {
  if (c.port == 0) return invalid("port must be between 1 and 65535 (got 0)");
  const Status ranges[] = {checkRange("connections", c.connections, 1, 1'000'000),
                           checkRange("threads", c.threads, 1, 256),
                           checkRange("pipeline", c.pipeline, 1, 1024)};
  for (const Status& s : ranges) {
    if (!s.ok()) return s;
  }
  if (c.durationSec < 0)
    return invalid("duration must be 0 (none) or more seconds" + gotValue(c.durationSec));
  if (runEnds && c.durationSec == 0 && c.requests == 0) {
    return invalid("give a duration or a request count, or the run would never end");
  }
  if (c.rate < 0)
    return invalid("rate must be 0 (closed loop) or more requests/s" + gotValue(c.rate));
  if (c.thinkTimeSec < 0)
    return invalid("think_time must be 0 or more seconds" + gotValue(c.thinkTimeSec));
  if (c.thinkTimeSec > 0 && c.rate > 0) return invalid("think_time applies to closed loop only");
  if (c.connectRate < 0)
    return invalid("connect_rate must be 0 (unpaced) or more connections/s" +
                   gotValue(c.connectRate));
  if (c.connectTimeoutSec <= 0)
    return invalid("connect_timeout must be more than 0 seconds" + gotValue(c.connectTimeoutSec));
  if (c.responseTimeoutSec <= 0)
    return invalid("response_timeout must be more than 0 seconds" + gotValue(c.responseTimeoutSec));
  if (c.size == 0 || c.size > c.maxResponse) {
    return invalid("size must be 1.." + std::to_string(c.maxResponse) + " bytes");
  }
  if (c.scenario == "chat") {
    if (c.rate <= 0)
      return invalid("the chat scenario needs a send rate (rate=messages/s in total)");
    if (c.durationSec <= 0) return invalid("the chat scenario runs for a duration");
    if (c.requests > 0)
      return invalid("the chat scenario runs for a duration, not a request count");
    if (c.rooms < 1 || c.rooms > c.connections) {
      return invalid("rooms must be between 1 and connections (" + std::to_string(c.connections) +
                     ")" + gotValue(c.rooms));
    }
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
