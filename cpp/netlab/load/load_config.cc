#include "netlab/load/load_config.h"

#include <cerrno>

#include "netlab/core/range_check.h"
#include "netlab/load/http_scenario.h"

namespace netlab {
namespace {

Error invalid(const std::string& message) { return Error{EINVAL, message}; }

}  // namespace

const std::vector<Field<LoadConfig>>& Fields<LoadConfig>::fields() {
  using C = LoadConfig;
  constexpr double kYear = 365 * 86400.0, kMaxRate = 1e9, kMaxBytes = 1 << 30;
  static const std::vector<Field<C>> table = {
      text("host", &C::host, "address", "the server's address or name"),
      number("port", &C::port, 1, 65535, "", "the server's TCP port"),
      text("scenario", &C::scenario, "", "what a request is and what answers it", scenarioNames()),
      number("connections", &C::connections, 1, 1'000'000, "",
             "concurrent connections, spread over the threads"),
      number("idle_connections", &C::idleConnections, 0, 1'000'000, "",
             "connections opened before the run and held idle through it",
             "(the result counts any the server drops)"),
      number("threads", &C::threads, 1, 256, "", "native threads, each with its own epoll loop"),
      number("duration", &C::durationSec, 0, kYear, "seconds", "how long to run",
             "(0: until the request budget is spent)", true),
      number("requests", &C::requests, 0, 1e15, "", "request budget", "(0: no budget)", true),
      number("rate", &C::rate, 0, kMaxRate, "requests/s",
             "total open-loop rate, spread over the connections (wrk2-style)", "(0: closed loop)",
             true),
      number("pipeline", &C::pipeline, 1, 1024, "", "requests in flight per connection"),
      number("think_time", &C::thinkTimeSec, 0, 3600, "seconds",
             "closed loop: pause between a response and the next request"),
      number("connect_rate", &C::connectRate, 0, kMaxRate, "connections/s",
             "new connections per second while ramping up", "(0: unpaced)", true),
      number("connect_timeout", &C::connectTimeoutSec, 0.001, kYear, "seconds",
             "a connect that takes longer fails"),
      number("response_timeout", &C::responseTimeoutSec, 0.001, kYear, "seconds",
             "a response that takes longer fails (and closes its connection)"),
      number("size", &C::size, 1, kMaxBytes, "bytes",
             "echo, framed, connect: payload bytes per request; log: message bytes; syslog: "
             "bytes per message, header included"),
      bytes("request", &C::request,
            "line: the line to send (default ping); framed, connect: the payload"),
      bytes("expect", &C::expect,
            "the expected response (default: the request back; line: any line)"),
      number("max_response", &C::maxResponse, 1, kMaxBytes, "bytes",
             "a larger response is a protocol error"),
      number("rooms", &C::rooms, 1, 1'000'000, "", "chat: rooms the connections are spread over"),
      text("framing", &C::framing, "",
           "syslog: octet (RFC 6587 octet counting, as rsyslog's omfwd) or lf (a message per "
           "line)",
           {"octet", "lf"}),
      text("method", &C::method, "", "http: the request method"),
      text("path", &C::path, "",
           "http: the request target; several, separated by spaces, are requested in turn"),
      bytes("headers", &C::headers, "http: extra header lines, 'Name: value', one per line"),
      bytes("body", &C::body, "http: the request body (sent with Content-Length)"),
      flag("keep_alive", &C::keepAlive,
           "http: reuse each connection (off: Connection: close, a new connection per request)"),
  };
  return table;
}

Status validate(const LoadConfig& c, bool runEnds) {
  Status fields = checkFields(c);
  if (!fields.ok()) return fields;
  if (runEnds && c.durationSec == 0 && c.requests == 0) {
    return invalid("give a duration or a request count, or the run would never end");
  }
  if (c.thinkTimeSec > 0 && c.rate > 0) return invalid("think_time applies to closed loop only");
  if (c.size > c.maxResponse) {
    return invalid("size must be between 1 and max_response (" + std::to_string(c.maxResponse) +
                   ") bytes" + gotValue(static_cast<double>(c.size)));
  }
  if (c.scenario == "chat") {
    if (c.rate <= 0)
      return invalid("the chat scenario needs a send rate (rate=messages/s in total)");
    if (c.durationSec <= 0) return invalid("the chat scenario runs for a duration");
    if (c.requests > 0)
      return invalid("the chat scenario runs for a duration, not a request count");
    if (c.rooms > c.connections) {
      return invalid("rooms must be between 1 and connections (" + std::to_string(c.connections) +
                     ")" + gotValue(c.rooms));
    }
    if (c.size < 32) return invalid("chat messages need at least 32 bytes for their timestamps");
  }
  if (c.scenario == "syslog") {
    if (c.rate <= 0) {
      return invalid(
          "the syslog scenario needs a send rate (rate=messages/s in total): syslog answers "
          "nothing, so there is no closed loop");
    }
    if (c.size < 64) return invalid("syslog messages need at least 64 bytes for their header");
  }
  if (c.scenario == "framed" && !c.codec) return invalid("the framed scenario needs a codec");
  if (c.scenario == "http") {
    Status http = validateHttp(c);
    if (!http.ok()) return http;
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
