#include "netlab/apps/http/routes.h"

#include <vector>

#include "netlab/apps/http/json.h"
#include "netlab/http/chars.h"

namespace netlab::apps::http {
namespace {

constexpr std::string_view kGetHead = "GET, HEAD, OPTIONS";
constexpr std::string_view kAny = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

// The decimal after `prefix` in `path`, within [lo, hi]; -1 when it is not one.
int64_t numberAfter(std::string_view path, std::string_view prefix, int64_t lo, int64_t hi) {
  std::string_view digits = path.substr(prefix.size());
  if (digits.empty() || digits.size() > 15) return -1;
  int64_t value = 0;
  for (char c : digits) {
    if (!netlab::http::isDigit(c)) return -1;
    value = value * 10 + (c - '0');
  }
  return value < lo || value > hi ? -1 : value;
}

Route at(RouteKind kind, std::string_view allow) { return {kind, allow, 0, {}}; }

Route numbered(std::string_view path, std::string_view prefix, RouteKind kind, int64_t lo,
               int64_t hi, std::string_view problem) {
  int64_t n = numberAfter(path, prefix, lo, hi);
  if (n < 0) return {RouteKind::kBadArgument, kGetHead, 0, problem};
  return {kind, kGetHead, n, {}};
}

Route byPath(std::string_view path) {
  if (path == "/") return at(RouteKind::kRoot, kGetHead);
  if (path == "/get") return at(RouteKind::kGet, kGetHead);
  if (path == "/headers") return at(RouteKind::kHeaders, kGetHead);
  if (path == "/ip") return at(RouteKind::kIp, kGetHead);
  if (path == "/post") return at(RouteKind::kEcho, "POST, OPTIONS");
  if (path == "/put") return at(RouteKind::kEcho, "PUT, OPTIONS");
  if (path == "/patch") return at(RouteKind::kEcho, "PATCH, OPTIONS");
  if (path == "/delete") return at(RouteKind::kEcho, "DELETE, OPTIONS");
  if (path == "/anything" || path.substr(0, 10) == "/anything/") return at(RouteKind::kEcho, kAny);
  if (path.substr(0, 7) == "/bytes/") {
    return numbered(path, "/bytes/", RouteKind::kBytes, 0, kMaxBytes,
                    "N must be a whole number from 0 to 2^40");
  }
  if (path.substr(0, 8) == "/stream/") {
    return numbered(path, "/stream/", RouteKind::kStream, 0, kMaxStreamLines,
                    "N must be a whole number from 0 to 100000");
  }
  if (path.substr(0, 7) == "/delay/") {
    return numbered(path, "/delay/", RouteKind::kDelay, 0, kMaxDelayMs,
                    "MS must be a whole number of milliseconds from 0 to 60000");
  }
  if (path == "/cache") return {RouteKind::kCache, kGetHead, -1, {}};
  if (path.substr(0, 7) == "/cache/") {
    return numbered(path, "/cache/", RouteKind::kCache, 0, kMaxCacheSeconds,
                    "N must be a whole number of seconds from 0 to 2^31");
  }
  if (path.substr(0, 8) == "/status/") {
    Route r = numbered(path, "/status/", RouteKind::kStatus, 200, 599,
                       "CODE must be a status from 200 to 599");
    r.allow = kAny;
    return r;
  }
  return at(RouteKind::kNotFound, {});
}

bool allowed(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    size_t comma = allow.find(',');
    if (netlab::http::trimWhitespace(allow.substr(0, comma)) == method) return true;
    allow.remove_prefix(comma == std::string_view::npos ? allow.size() : comma + 1);
  }
  return false;
}

std::string_view hostOf(const netlab::http::Head& head) {
  const netlab::http::Field* host = head.find("host");
  return host ? host->value : std::string_view("localhost");
}

}  // namespace

std::pair<std::string_view, std::string_view> splitTarget(std::string_view target) {
  if (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://") {
    size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

Route route(std::string_view method, std::string_view path) {
  Route r = byPath(path);
  if (r.kind == RouteKind::kNotFound || r.kind == RouteKind::kBadArgument) return r;
  if (!allowed(r.allow, method)) return at(RouteKind::kBadMethod, r.allow);
  return r;
}

void appendHeadersJson(std::string& out, const netlab::http::Head& head) {
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  fields.reserve(head.fields.size());
  for (const auto& f : head.fields) fields.emplace_back(f.name, f.value);
  appendJsonObject(out, fields, /*join=*/true);
}

void appendRequestJson(std::string& out, const Exchange& x, RouteKind kind) {
  auto [path, query] = splitTarget(x.head.target);
  auto args = parseQuery(query);
  std::vector<std::pair<std::string_view, std::string_view>> items(args.begin(), args.end());
  out += "{\"args\": ";
  appendJsonObject(out, items, /*join=*/false);
  out += ", \"headers\": ";
  appendHeadersJson(out, x.head);
  if (x.id >= 0) out += ", \"id\": " + std::to_string(x.id);
  out += ", \"origin\": ";
  appendJsonString(out, x.origin);
  out += ", \"url\": ";
  std::string url = "http://";
  url += hostOf(x.head);
  url += x.head.target.substr(0, 1) == "/" ? x.head.target : std::string_view(path);
  appendJsonString(out, url);
  if (kind == RouteKind::kEcho) {
    out += ", \"method\": ";
    appendJsonString(out, x.head.method);
    out += ", \"body_size\": " + std::to_string(x.bodySize) + ", \"body_sha256\": \"" +
           x.bodySha256 + "\"";
  }
  out += "}";
}

}  // namespace netlab::apps::http
