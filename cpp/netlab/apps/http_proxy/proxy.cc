#include "netlab/apps/http_proxy/proxy.h"

#include "netlab/apps/http_proxy/exchange.h"
#include "netlab/io/clock.h"

namespace netlab {
namespace {

std::atomic<uint64_t> nextSerial{1};

}  // namespace

const std::vector<Field<HttpProxyOptions>>& Fields<HttpProxyOptions>::fields() {
  using O = HttpProxyOptions;
  static const std::vector<Field<O>> table = {
      text("upstreams", &O::upstreams, "host:port [weight=N] ...",
           "the servers requests go to (separated by spaces or commas; weight=N after one "
           "gives it N shares)",
           {}, /*required=*/true),
      text("balance", &O::balance, "policy",
           "how an upstream is chosen: weighted round-robin, or fewest requests in flight per "
           "weight",
           {"round-robin", "least-conn"}),
      number("connect_timeout", &O::connectTimeoutSec, 0.001, 3600, "seconds",
             "how long an upstream has to accept (then 504; nginx's default)"),
      number("upstream_timeout", &O::upstreamTimeoutSec, 0.001, 3600, "seconds",
             "longest wait for the upstream's next bytes of a response (then 504)"),
      number("keepalive", &O::keepalive, 0, 100000, "connections",
             "idle upstream connections kept per upstream and thread (0: close after each "
             "response)"),
      number("keepalive_timeout", &O::keepaliveTimeoutSec, 0.001, 3600, "seconds",
             "how long an idle upstream connection is kept"),
      number("max_fails", &O::maxFails, 0, 1000, "failures",
             "failures within fail_timeout that mark an upstream down for fail_timeout (0: "
             "never)"),
      number("fail_timeout", &O::failTimeoutSec, 0.001, 3600, "seconds",
             "the window for max_fails, and how long a failed upstream is skipped"),
      text("set_headers", &O::setHeaders, "Name: value lines",
           "request fields set on the way to the upstream, replacing the client's (one per "
           "line)"),
      text("remove_headers", &O::removeHeaders, "names",
           "request fields removed on the way to the upstream (separated by spaces or commas)"),
      text("deny", &O::deny, "rules",
           "requests answered 403: rules separated by ';', each meeting all of method=A,B "
           "path=/prefix from=10.0.0.0/8"),
      number("rate_limit", &O::rateLimit, 0, 1e9, "requests/s",
             "requests a second per client address; past it 429 with Retry-After (0: none)"),
      number("rate_burst", &O::rateBurst, 1, 1e9, "requests",
             "requests a client address may make at once before rate_limit applies"),
      text("connect_allow", &O::connectAllow, "host:port ...",
           "where CONNECT may open a tunnel (separated by spaces or commas; host may be a "
           "name, an address, a block such as 10.0.0.0/8, or *; port a number or *); others "
           "get 403"),
      text("access_log", &O::accessLog, "path",
           "a file each exchange is appended to as a line: the Combined Log Format, then the "
           "upstream, its time and the request's time (written off the event loop)"),
      text("health_check", &O::healthCheck, "path",
           "a path each upstream is asked for every health_interval (a 2xx or 3xx passes); "
           "empty: no active checks"),
      number("health_interval", &O::healthIntervalSec, 0.01, 3600, "seconds",
             "time between two checks of an upstream, and the most one may take"),
      number("health_fails", &O::healthFails, 1, 1000, "checks",
             "failed checks in a row that mark an upstream down"),
      number("health_passes", &O::healthPasses, 1, 1000, "checks",
             "passed checks in a row that bring it back"),
      number("cache_size", &O::cacheSize, 0, 1e12, "bytes",
             "memory for cached responses to GET and HEAD (RFC 9111: Cache-Control, Expires, "
             "Vary, revalidation), least recently used evicted (0: no cache)"),
      number("cache_max_entry", &O::cacheMaxEntry, 1, 1e12, "bytes",
             "largest response body stored; larger ones stream through uncached"),
      flag("gzip", &O::gzip,
           "compress responses with gzip for clients that accept it (gzip_types at least "
           "gzip_min_length long, not already encoded), streamed"),
      number("gzip_level", &O::gzipLevel, 1, 9, "level",
             "zlib's compression level: 1 is fastest (nginx's default), 9 smallest"),
      number("gzip_min_length", &O::gzipMinLength, 0, 1e12, "bytes",
             "responses shorter than this (by Content-Length) are sent as they are"),
      text("gzip_types", &O::gzipTypes, "media types",
           "the Content-Types compressed (separated by spaces or commas; text/* covers a "
           "family, * every type)"),
      number("max_headers", &O::maxHeaders, 1, 10000, "fields",
             "header fields per request; more get 431"),
      number("max_header_line", &O::maxHeaderLine, 64, 1 << 20, "bytes",
             "longest request line (414 past it) or header line (431)"),
      number("max_head", &O::maxHead, 256, 16 << 20, "bytes", "largest request head (431 past it)"),
  };
  return table;
}

Status validate(const HttpProxyOptions& options) {
  auto list = parseUpstreams(options.upstreams);
  if (!list.ok()) return list.error();
  auto edits = parseHeaderEdits(options.setHeaders, options.removeHeaders);
  if (!edits.ok()) return edits.error();
  auto rules = parseDenyRules(options.deny);
  if (!rules.ok()) return rules.error();
  auto allow = parseConnectAllow(options.connectAllow);
  if (!allow.ok()) return allow.error();
  auto types = parseGzipTypes(options.gzipTypes);
  if (!types.ok()) return types.error();
  if (!options.healthCheck.empty() && options.healthCheck.front() != '/') {
    return Error{EINVAL, "health_check must be a path starting with '/' (got '" +
                             options.healthCheck + "')"};
  }
  for (char c : options.healthCheck) {
    if (c <= ' ' || c == 0x7f) return Error{EINVAL, "health_check: no spaces or controls"};
  }
  return {};
}

Result<std::shared_ptr<Protocol>> makeHttpProxy(HttpProxyOptions options) {
  Status valid = validate(options);
  if (!valid.ok()) return valid.error();
  std::unique_ptr<LogWriter> log;
  if (!options.accessLog.empty()) {
    auto opened = LogWriter::open(options.accessLog);
    if (!opened.ok()) return Error{opened.error().code, "access_log: " + opened.error().message};
    log = std::move(opened.value());
  }
  return std::shared_ptr<Protocol>(
      std::make_shared<HttpProxyProtocol>(std::move(options), std::move(log)));
}

HttpProxyProtocol::HttpProxyProtocol(HttpProxyOptions options, std::unique_ptr<LogWriter> accessLog)
    : options_(std::move(options)),
      serial_(nextSerial.fetch_add(1)),
      limiter_(options_.rateLimit, options_.rateBurst),
      accessLog_(std::move(accessLog)) {
  if (auto edits = parseHeaderEdits(options_.setHeaders, options_.removeHeaders); edits.ok()) {
    edits_ = std::move(edits.value());
  }
  if (auto rules = parseDenyRules(options_.deny); rules.ok()) deny_ = std::move(rules.value());
  if (auto allow = parseConnectAllow(options_.connectAllow); allow.ok()) {
    connectAllow_ = std::move(allow.value());
  }
  if (options_.cacheSize > 0) {
    cache_ = std::make_unique<ResponseCache>(static_cast<size_t>(options_.cacheSize),
                                             static_cast<size_t>(options_.cacheMaxEntry));
  }
  gzip_ = {options_.gzip, static_cast<int>(options_.gzipLevel), options_.gzipMinLength, {}};
  if (auto types = parseGzipTypes(options_.gzipTypes); types.ok()) {
    gzip_.types = std::move(types.value());
  }
  auto list = parseUpstreams(options_.upstreams);
  std::vector<UpstreamAddress> servers;
  if (list.ok()) servers = std::move(list.value());
  auto balance =
      options_.balance == "least-conn" ? BalancePolicy::kLeastConn : BalancePolicy::kRoundRobin;
  UpstreamSet::Health health{options_.maxFails,
                             static_cast<int64_t>(options_.failTimeoutSec * 1e9)};
  requests_ = std::make_unique<std::atomic<uint64_t>[]>(servers.size());
  upstreams_ = std::make_unique<UpstreamSet>(std::move(servers), balance, health);
}

Status HttpProxyProtocol::onServerStart() {
  if (options_.healthCheck.empty()) return {};
  HealthChecker::Settings settings{options_.healthCheck, options_.healthIntervalSec,
                                   options_.healthFails, options_.healthPasses};
  auto checker = HealthChecker::start(*upstreams_, std::move(settings), healthCounts_);
  if (!checker.ok()) return checker.error();
  checker_ = std::move(checker.value());
  return {};
}

void HttpProxyProtocol::onServerStop() { checker_.reset(); }

std::unique_ptr<Handler> HttpProxyProtocol::newHandler() {
  return std::make_unique<apps::proxy::ClientSide>(*this);
}

// A head at most, plus what reads bring while a request waits its turn (reading pauses).
size_t HttpProxyProtocol::maxPendingInput() const {
  return static_cast<size_t>(options_.maxHead + options_.maxHeaderLine) + 2 * Buffer::kReadChunk;
}

void HttpProxyProtocol::countRequest(size_t upstream) {
  requests_[upstream].fetch_add(1, std::memory_order_relaxed);
}

void HttpProxyProtocol::countResponse(int status) {
  if (status >= 100 && status <= 599) {
    statuses_[static_cast<size_t>(status - 100)].fetch_add(1, std::memory_order_relaxed);
  }
}

HttpProxySnapshot HttpProxyProtocol::snapshot() const {
  HttpProxySnapshot s;
  for (int klass = 1; klass <= 5; ++klass) s.responses[std::to_string(klass) + "xx"] = 0;
  for (size_t i = 0; i < statuses_.size(); ++i) {
    uint64_t n = statuses_[i].load(std::memory_order_relaxed);
    if (n == 0) continue;
    s.statuses[std::to_string(i + 100)] = n;
    s.responses[std::to_string(i / 100 + 1) + "xx"] += n;
  }
  s.upstreamConnects = upstreamConnects_.load(std::memory_order_relaxed);
  s.upstreamReuses = upstreamReuses_.load(std::memory_order_relaxed);
  s.upstreamFailures = upstreamFailures_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  s.poolIdle = poolIdle_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < upstreams_->size(); ++i) {
    s.upstreamRequests[upstreams_->address(i).name] = requests_[i].load(std::memory_order_relaxed);
  }
  s.upstreamsDown = upstreams_->down(nowNs());
  s.denied = denied_.load(std::memory_order_relaxed);
  s.rateLimited = rateLimited_.load(std::memory_order_relaxed);
  s.tunnels = tunnels_.load(std::memory_order_relaxed);
  s.gzipped = gzipped_.load(std::memory_order_relaxed);
  if (cache_) {
    ResponseCache::Counts& c = cache_->counts();
    s.cacheHits = c.hits.load(std::memory_order_relaxed);
    s.cacheMisses = c.misses.load(std::memory_order_relaxed);
    s.cacheRevalidations = c.revalidations.load(std::memory_order_relaxed);
    s.cacheBypasses = c.bypasses.load(std::memory_order_relaxed);
    s.cacheEvictions = c.evictions.load(std::memory_order_relaxed);
    s.cacheBytes = cache_->bytes();
    s.cacheEntries = cache_->entries();
  }
  s.healthChecks = healthCounts_.checks.load(std::memory_order_relaxed);
  s.healthCheckFailures = healthCounts_.failures.load(std::memory_order_relaxed);
  if (accessLog_) {
    s.accessLogBytes = accessLog_->written();
    s.accessLogDropped = accessLog_->dropped();
    s.accessLogErrors = accessLog_->failed();
  }
  return s;
}

}  // namespace netlab
