#include "netlab/apps/http/http_server.h"

#include "netlab/apps/http/http_handler.h"

namespace netlab {

const std::vector<Field<HttpOptions>>& Fields<HttpOptions>::fields() {
  static const std::vector<Field<HttpOptions>> table = {
      number("body_limit", &HttpOptions::bodyLimit, 0, 1e15, "bytes",
             "largest request body; a larger one gets 413 and a close (bodies are streamed and "
             "hashed, never stored)"),
      number("max_headers", &HttpOptions::maxHeaders, 1, 10000, "fields",
             "header fields per request; more get 431"),
      number("max_header_line", &HttpOptions::maxHeaderLine, 64, 1 << 20, "bytes",
             "longest request line (414 past it) or header line (431)"),
      number("max_head", &HttpOptions::maxHead, 256, 16 << 20, "bytes",
             "largest request head, request line and fields together (431 past it)"),
  };
  return table;
}

std::unique_ptr<Handler> HttpProtocol::newHandler() {
  return std::make_unique<apps::http::HttpHandler>(*this);
}

size_t HttpProtocol::maxPendingInput() const {
  return static_cast<size_t>(options_.maxHead + options_.maxHeaderLine) + 2 * Buffer::kReadChunk;
}

void HttpProtocol::countRequest(std::string_view method) {
  size_t i = 0;
  while (i < kMethods.size() && kMethods[i] != method) ++i;
  requests_[i].fetch_add(1, std::memory_order_relaxed);
}

void HttpProtocol::countResponse(int status) {
  int klass = status / 100 - 1;
  if (klass >= 0 && klass < 5) responses_[klass].fetch_add(1, std::memory_order_relaxed);
}

HttpSnapshot HttpProtocol::snapshot() const {
  HttpSnapshot s;
  for (size_t i = 0; i < requests_.size(); ++i) {
    uint64_t n = requests_[i].load(std::memory_order_relaxed);
    if (n > 0) s.requests[i < kMethods.size() ? std::string(kMethods[i]) : "other"] = n;
  }
  for (size_t i = 0; i < responses_.size(); ++i) {
    s.responses[std::to_string(i + 1) + "xx"] = responses_[i].load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace netlab
