// The httpbin-like routes of HttpServer: which path means what, which methods it takes, and
// the JSON documents that describe a request back to the client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "netlab/http/message.h"

namespace netlab::apps::http {

enum class RouteKind : uint8_t {
  kRoot,         // GET /: a short text
  kGet,          // GET /get: the request as JSON
  kEcho,         // /post /put /patch /delete /anything: the request and its body's size and hash
  kBytes,        // /bytes/N: N bytes of a fixed pattern
  kStream,       // /stream/N: N JSON lines, chunked
  kDelay,        // /delay/MS: the /get document after MS milliseconds
  kStatus,       // /status/CODE: that status, no body
  kHeaders,      // /headers: the request's header fields
  kIp,           // /ip: the client's address
  kCache,        // /cache/N: /get with Cache-Control max-age=N; /cache: validators, 304 to them
  kNotFound,     // 404
  kBadMethod,    // 405 with Allow
  kBadArgument,  // 400: N, MS or CODE out of range
};

struct Route {
  RouteKind kind = RouteKind::kNotFound;
  std::string_view allow;    // the methods the path takes, for Allow
  int64_t number = 0;        // N, MS or CODE (-1 for /cache)
  std::string_view problem;  // kBadArgument: what is wrong
};

constexpr int64_t kMaxBytes = int64_t{1} << 40;  // streamed, so only a sanity bound
constexpr int64_t kMaxStreamLines = 100'000;
constexpr int64_t kMaxDelayMs = 60'000;
constexpr int64_t kMaxCacheSeconds = int64_t{1} << 31;  // RFC 9111's largest delta-seconds

/// The path and the query of a request target in origin form ("/a?b") or absolute form
/// ("http://host/a?b", as proxies send).
std::pair<std::string_view, std::string_view> splitTarget(std::string_view target);

/// What `method` on `path` means. OPTIONS on a known path gives its kind with `allow` set.
Route route(std::string_view method, std::string_view path);

/// What the JSON documents describe.
struct Exchange {
  const netlab::http::Head& head;
  std::string_view origin;  // the client's address
  uint64_t bodySize = 0;
  std::string bodySha256;
  int64_t id = -1;  // /stream's line number
};

/// httpbin's request document: args, headers, origin, url; with the method and the body's
/// size and sha256 for kEcho, with an id for /stream's lines.
void appendRequestJson(std::string& out, const Exchange& x, RouteKind kind);
void appendHeadersJson(std::string& out, const netlab::http::Head& head);

}  // namespace netlab::apps::http
