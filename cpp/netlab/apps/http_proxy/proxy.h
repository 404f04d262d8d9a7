// An HTTP/1.1 reverse proxy: each request is parsed, rewritten for the next hop and sent to an
// upstream chosen by weighted round-robin or least-connections, skipping upstreams that have
// just failed; the response is streamed back. Bodies stream both ways with backpressure (a
// slow client pauses reading from the upstream, a slow upstream pauses reading from the
// client), so memory per connection is bounded whatever the body size. Upstream connections
// are kept alive in a per-thread pool shared by all clients. A request whose upstream refuses
// the connection goes to the next upstream; an idempotent one whose connection dies before any
// response byte is retried once. Past that, a refused or unreachable upstream gives 502, one
// that does not connect or answer in time 504, a malformed request 400 (431 and 414 past the
// head limits).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "netlab/apps/http_proxy/allowlist.h"
#include "netlab/apps/http_proxy/cache.h"
#include "netlab/apps/http_proxy/filter.h"
#include "netlab/apps/http_proxy/gzip.h"
#include "netlab/apps/http_proxy/health_check.h"
#include "netlab/apps/http_proxy/upstreams.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"
#include "netlab/io/log_writer.h"
#include "netlab/io/result.h"

namespace netlab {

struct HttpProxyOptions {
  /// "host:port [weight=N]" upstreams, separated by spaces or commas; required.
  std::string upstreams;
  std::string balance = "round-robin";
  double connectTimeoutSec = 60;    // nginx proxy_connect_timeout
  double upstreamTimeoutSec = 60;   // nginx proxy_read_timeout: between two reads
  int64_t keepalive = 32;           // idle upstream connections per upstream and thread
  double keepaliveTimeoutSec = 60;  // nginx's upstream keepalive_timeout
  int64_t maxFails = 1;             // nginx's max_fails and fail_timeout
  double failTimeoutSec = 10;
  std::string setHeaders, removeHeaders, deny;  // see filter.h
  double rateLimit = 0;                         // requests a second per client address; 0: none
  double rateBurst = 10;
  std::string connectAllow;  // CONNECT targets (allowlist.h); empty: CONNECT answered 403
  std::string accessLog;     // a file appended to (access_log.h); empty: no log
  std::string healthCheck;   // a path each upstream is asked for (health_check.h); empty: none
  double healthIntervalSec = 5;
  int64_t healthFails = 1, healthPasses = 1;
  int64_t cacheSize = 0;  // cache.h; bytes, 0: no cache
  int64_t cacheMaxEntry = 1 << 20;
  bool gzip = false;  // gzip.h; nginx's gzip, gzip_comp_level, gzip_min_length, gzip_types
  int64_t gzipLevel = 1;
  int64_t gzipMinLength = 256;
  std::string gzipTypes =
      "text/* application/json application/javascript application/xml "
      "image/svg+xml";
  int64_t maxHeaders = 100;
  int64_t maxHeaderLine = 8 * 1024;
  int64_t maxHead = 64 * 1024;
};
template <>
struct Fields<HttpProxyOptions> {
  static const std::vector<Field<HttpProxyOptions>>& fields();
};
Status validate(const HttpProxyOptions& options);
class Protocol;
/// validate(), then the access log opened: an Error says which option is wrong.
Result<std::shared_ptr<Protocol>> makeHttpProxy(HttpProxyOptions options);

/// What stats() adds for the proxy.
struct HttpProxySnapshot {
  std::map<std::string, uint64_t> responses;         // by status class, those the proxy sent
  std::map<std::string, uint64_t> statuses;          // by status code, those seen at least once
  std::map<std::string, uint64_t> upstreamRequests;  // by upstream, retries included
  uint64_t upstreamConnects = 0, upstreamReuses = 0, upstreamFailures = 0, retries = 0;
  int64_t poolIdle = 0;
  uint64_t upstreamsDown = 0;
  uint64_t denied = 0, rateLimited = 0;
  uint64_t tunnels = 0;
  uint64_t gzipped = 0;
  uint64_t cacheHits = 0, cacheMisses = 0, cacheRevalidations = 0, cacheBypasses = 0;
  uint64_t cacheEvictions = 0, cacheBytes = 0, cacheEntries = 0;
  uint64_t accessLogBytes = 0, accessLogDropped = 0, accessLogErrors = 0;
  uint64_t healthChecks = 0, healthCheckFailures = 0;
};

class HttpProxyProtocol final : public Protocol {
 public:
  /// `options` must have passed validate(); `accessLog` is options.accessLog opened, or null.
  HttpProxyProtocol(HttpProxyOptions options, std::unique_ptr<LogWriter> accessLog = nullptr);
  std::string_view name() const override { return "http-proxy"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override;
  size_t socketsPerConnection() const override { return 2; }
  OptionMap optionValues() const override { return valuesOf(options_); }
  Status onServerStart() override;
  void onServerStop() override;
  const HttpProxyOptions& options() const { return options_; }

  UpstreamSet& upstreams() { return *upstreams_; }
  /// Tells apart the pools of two proxies that ran on one thread.
  uint64_t serial() const { return serial_; }
  std::atomic<int64_t>* idleGauge() { return &poolIdle_; }
  void countRequest(size_t upstream);
  void countRetry() { retries_.fetch_add(1, std::memory_order_relaxed); }
  void countDenied() { denied_.fetch_add(1, std::memory_order_relaxed); }
  void countRateLimited() { rateLimited_.fetch_add(1, std::memory_order_relaxed); }
  const HeaderEdits& headerEdits() const { return edits_; }
  const std::vector<DenyRule>& denyRules() const { return deny_; }
  RateLimiter& rateLimiter() { return limiter_; }
  const std::vector<ConnectTarget>& connectAllow() const { return connectAllow_; }
  const GzipPolicy& gzip() const { return gzip_; }
  void countGzipped() { gzipped_.fetch_add(1, std::memory_order_relaxed); }
  /// The response cache, or null when cache_size is 0.
  ResponseCache* cache() { return cache_.get(); }
  /// Drops cached responses for `target` on every host, or all of them; how many went.
  size_t purge(std::string_view target) { return cache_ ? cache_->purge(target) : 0; }
  void countTunnel() { tunnels_.fetch_add(1, std::memory_order_relaxed); }
  bool logsAccess() const { return accessLog_ != nullptr; }
  void logAccess(std::string_view line) { accessLog_->append(line); }
  void countResponse(int status);
  void countConnect() { upstreamConnects_.fetch_add(1, std::memory_order_relaxed); }
  void countReuse() { upstreamReuses_.fetch_add(1, std::memory_order_relaxed); }
  void countFailure() { upstreamFailures_.fetch_add(1, std::memory_order_relaxed); }
  HttpProxySnapshot snapshot() const;

 private:
  HttpProxyOptions options_;
  std::unique_ptr<UpstreamSet> upstreams_;
  uint64_t serial_;
  std::array<std::atomic<uint64_t>, 500> statuses_{};  // 100..599
  std::unique_ptr<std::atomic<uint64_t>[]> requests_;  // by upstream
  std::atomic<uint64_t> upstreamConnects_{0}, upstreamReuses_{0}, upstreamFailures_{0};
  std::atomic<uint64_t> retries_{0}, denied_{0}, rateLimited_{0}, tunnels_{0};
  HeaderEdits edits_;
  std::vector<DenyRule> deny_;
  RateLimiter limiter_;
  std::vector<ConnectTarget> connectAllow_;
  GzipPolicy gzip_;
  std::atomic<uint64_t> gzipped_{0};
  std::unique_ptr<ResponseCache> cache_;
  std::unique_ptr<LogWriter> accessLog_;
  HealthChecker::Counts healthCounts_;
  std::unique_ptr<HealthChecker> checker_;  // while serving, with health_check set
  std::atomic<int64_t> poolIdle_{0};
};

}  // namespace netlab
