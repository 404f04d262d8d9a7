#include "netlab/apps/http_proxy/proxy.h"

#include "netlab/apps/http_proxy/exchange.h"
#include "netlab/apps/relay.h"

namespace netlab {
namespace {

std::vector<std::string_view> upstreamList(std::string_view text) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t start = text.find_first_not_of(" ,", at);
    if (start == std::string_view::npos) break;
    size_t end = text.find_first_of(" ,", start);
    out.push_back(text.substr(start, end - start));
    at = end == std::string_view::npos ? text.size() : end;
  }
  return out;
}

}  // namespace

const std::vector<Field<HttpProxyOptions>>& Fields<HttpProxyOptions>::fields() {
  using O = HttpProxyOptions;
  static const std::vector<Field<O>> table = {
      text("upstreams", &O::upstreams, "host:port ...",
           "the servers requests go to, round-robin (separated by spaces or commas)", {},
           /*required=*/true),
      number("connect_timeout", &O::connectTimeoutSec, 0.001, 3600, "seconds",
             "how long an upstream has to accept (then 504; nginx's default)"),
      number("upstream_timeout", &O::upstreamTimeoutSec, 0.001, 3600, "seconds",
             "longest wait for the upstream's next bytes of a response (then 504)"),
      number("max_headers", &O::maxHeaders, 1, 10000, "fields",
             "header fields per request; more get 431"),
      number("max_header_line", &O::maxHeaderLine, 64, 1 << 20, "bytes",
             "longest request line (414 past it) or header line (431)"),
      number("max_head", &O::maxHead, 256, 16 << 20, "bytes", "largest request head (431 past it)"),
  };
  return table;
}

Status validate(const HttpProxyOptions& options) {
  std::vector<std::string_view> list = upstreamList(options.upstreams);
  if (list.empty()) return Error{EINVAL, "http-proxy needs at least one upstream (host:port)"};
  for (std::string_view u : list) {
    auto target = parseTarget(u);
    if (!target.ok()) return Error{EINVAL, "upstream: " + target.error().message};
  }
  return {};
}

HttpProxyProtocol::HttpProxyProtocol(HttpProxyOptions options) : options_(std::move(options)) {
  for (std::string_view u : upstreamList(options_.upstreams)) {
    auto target = parseTarget(u);
    if (target.ok()) upstreams_.push_back(target.value());
  }
}

std::unique_ptr<Handler> HttpProxyProtocol::newHandler() {
  return std::make_unique<apps::proxy::ClientSide>(*this);
}

// A head at most, plus what reads bring while a request waits its turn (reading pauses).
size_t HttpProxyProtocol::maxPendingInput() const {
  return static_cast<size_t>(options_.maxHead + options_.maxHeaderLine) + 2 * Buffer::kReadChunk;
}

const std::pair<std::string, uint16_t>& HttpProxyProtocol::pickUpstream() {
  return upstreams_[next_.fetch_add(1, std::memory_order_relaxed) % upstreams_.size()];
}

void HttpProxyProtocol::countResponse(int status) {
  int klass = status / 100 - 1;
  if (klass >= 0 && klass < 5) responses_[klass].fetch_add(1, std::memory_order_relaxed);
}

HttpProxySnapshot HttpProxyProtocol::snapshot() const {
  HttpProxySnapshot s;
  for (size_t i = 0; i < responses_.size(); ++i) {
    s.responses[std::to_string(i + 1) + "xx"] = responses_[i].load(std::memory_order_relaxed);
  }
  s.upstreamConnects = upstreamConnects_.load(std::memory_order_relaxed);
  s.upstreamReuses = upstreamReuses_.load(std::memory_order_relaxed);
  s.upstreamFailures = upstreamFailures_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace netlab
