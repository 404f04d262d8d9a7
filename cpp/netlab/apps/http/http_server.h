// An httpbin-like HTTP/1.1 origin server: the routes a proxy, a load test or a demo needs,
// served by one handler under every I/O model. Requests are parsed incrementally, bodies are
// hashed as they stream past and never held, large responses are produced as the client
// reads them, and /delay waits on a timer, never blocking its loop.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "netlab/core/handler.h"
#include "netlab/core/options.h"

namespace netlab {

struct HttpOptions {
  /// Streamed and hashed, never stored, so the default is large (nginx's 1m exists because
  /// nginx buffers bodies to disk); past it, 413 and a close.
  int64_t bodyLimit = int64_t{1} << 30;
  int64_t maxHeaders = 100;          // fields per head; nginx and Apache: 100
  int64_t maxHeaderLine = 8 * 1024;  // nginx large_client_header_buffers 8k
  int64_t maxHead = 64 * 1024;
};
template <>
struct Fields<HttpOptions> {
  static const std::vector<Field<HttpOptions>>& fields();
};

/// What stats() adds for HTTP.
struct HttpSnapshot {
  std::map<std::string, uint64_t> requests;   // by method
  std::map<std::string, uint64_t> responses;  // by status class: "2xx", ...
};

class HttpProtocol final : public Protocol {
 public:
  static constexpr std::array<std::string_view, 7> kMethods = {"GET",   "HEAD",   "POST",   "PUT",
                                                               "PATCH", "DELETE", "OPTIONS"};
  explicit HttpProtocol(HttpOptions options) : options_(options) {}
  std::string_view name() const override { return "http"; }
  std::unique_ptr<Handler> newHandler() override;
  /// A head at most, plus what one read brings while a response is being produced.
  size_t maxPendingInput() const override;
  OptionMap optionValues() const override { return valuesOf(options_); }
  const HttpOptions& options() const { return options_; }

  void countRequest(std::string_view method);
  void countResponse(int status);
  HttpSnapshot snapshot() const;

 private:
  HttpOptions options_;
  // Bumped once per request from every loop thread; relaxed, as the server's own counters.
  std::array<std::atomic<uint64_t>, kMethods.size() + 1> requests_{};  // the last: others
  std::array<std::atomic<uint64_t>, 5> responses_{};                   // 1xx .. 5xx
};

}  // namespace netlab
