#include "netlab/apps/http_proxy/cache_policy.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace netlab {
namespace {

using netlab::http::equalsIgnoreCase;
using netlab::http::trimWhitespace;

// A delta-seconds value; values past 2^31 are taken as 2^31 (RFC 9111 §1.2.2).
int64_t deltaSeconds(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty()) return -1;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return -1;
    n = std::min<int64_t>(n * 10 + (c - '0'), int64_t{1} << 31);
  }
  return n;
}

void apply(CacheControl& cc, std::string_view directive) {
  size_t eq = directive.find('=');
  std::string_view name = trimWhitespace(directive.substr(0, eq));
  std::string_view value =
      eq == std::string_view::npos ? "" : trimWhitespace(directive.substr(eq + 1));
  if (equalsIgnoreCase(name, "no-store")) cc.noStore = true;
  if (equalsIgnoreCase(name, "no-cache")) cc.noCache = true;  // a field list is treated whole
  if (equalsIgnoreCase(name, "private")) cc.isPrivate = true;
  if (equalsIgnoreCase(name, "public")) cc.isPublic = true;
  if (equalsIgnoreCase(name, "must-revalidate") || equalsIgnoreCase(name, "proxy-revalidate")) {
    cc.mustRevalidate = true;
  }
  if (equalsIgnoreCase(name, "max-age")) {
    int64_t n = deltaSeconds(value);
    cc.maxAge = n < 0 ? 0 : n;  // a malformed max-age means stale (RFC 9111 §4.2.1)
  }
  if (equalsIgnoreCase(name, "s-maxage")) {
    int64_t n = deltaSeconds(value);
    cc.sMaxAge = n < 0 ? 0 : n;
  }
}

std::optional<int64_t> parseWith(const std::string& s, const char* format) {
  tm t{};
  const char* end = ::strptime(s.c_str(), format, &t);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(::timegm(&t));
}

}  // namespace

CacheControl parseCacheControl(const netlab::http::Head& head) {
  CacheControl cc;
  bool any = false;
  for (const netlab::http::Field& f : head.fields) {
    if (!equalsIgnoreCase(f.name, "cache-control")) continue;
    any = true;
    std::string_view list = f.value;
    // Commas inside a quoted value (no-cache="a, b") would split it; its name is all we use.
    bool quoted = false;
    size_t start = 0;
    for (size_t i = 0; i <= list.size(); ++i) {
      if (i < list.size() && list[i] == '"') quoted = !quoted;
      if (i == list.size() || (list[i] == ',' && !quoted)) {
        apply(cc, list.substr(start, i - start));
        start = i + 1;
      }
    }
  }
  if (!any && head.isRequest) {
    const netlab::http::Field* pragma = head.find("pragma");
    if (pragma && netlab::http::listHasToken(pragma->value, "no-cache")) cc.noCache = true;
  }
  return cc;
}

std::optional<int64_t> parseHttpDate(std::string_view text) {
  std::string s(trimWhitespace(text));
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    if (auto t = parseWith(s, format)) return t;
  }
  return std::nullopt;
}

std::optional<int64_t> freshnessLifetime(const netlab::http::Head& response,
                                         const CacheControl& cc) {
  if (cc.sMaxAge >= 0) return cc.sMaxAge;
  if (cc.maxAge >= 0) return cc.maxAge;
  const netlab::http::Field* expires = response.find("expires");
  if (!expires) return std::nullopt;
  auto when = parseHttpDate(expires->value);
  if (!when) return 0;  // "Expires: 0" and other invalid dates mean already expired
  const netlab::http::Field* date = response.find("date");
  auto now = date ? parseHttpDate(date->value) : std::nullopt;
  int64_t base = now ? *now : static_cast<int64_t>(::time(nullptr));
  return std::max<int64_t>(0, *when - base);
}

int64_t initialAge(const netlab::http::Head& response, int64_t receivedAt) {
  int64_t age = 0;
  if (const netlab::http::Field* f = response.find("age"))
    age = std::max<int64_t>(0, deltaSeconds(f->value));
  if (const netlab::http::Field* f = response.find("date")) {
    if (auto date = parseHttpDate(f->value)) age = std::max(age, receivedAt - *date);
  }
  return age;
}

bool storable(const netlab::http::Head& request, const netlab::http::Head& response,
              const CacheControl& cc) {
  static constexpr int kUnderstood[] = {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501};
  if (std::find(std::begin(kUnderstood), std::end(kUnderstood), response.status) ==
      std::end(kUnderstood)) {
    return false;
  }
  if (cc.noStore || cc.isPrivate) return false;
  for (const netlab::http::Field& f : response.fields) {  // Vary: * on any of its lines
    if (equalsIgnoreCase(f.name, "vary") && f.value.find('*') != std::string_view::npos) {
      return false;
    }
  }
  if (response.find("set-cookie")) return false;
  if (request.find("authorization") && !cc.isPublic && !cc.mustRevalidate && cc.sMaxAge < 0) {
    return false;
  }
  return cc.noCache || freshnessLifetime(response, cc).has_value();
}

bool noneMatchHits(std::string_view ifNoneMatch, std::string_view etag) {
  if (trimWhitespace(ifNoneMatch) == "*") return !etag.empty();
  auto opaque = [](std::string_view tag) {
    tag = trimWhitespace(tag);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    return tag;
  };
  std::string_view ours = opaque(etag);
  if (ours.empty()) return false;
  while (!ifNoneMatch.empty()) {
    size_t comma = ifNoneMatch.find(',');
    if (opaque(ifNoneMatch.substr(0, comma)) == ours) return true;
    if (comma == std::string_view::npos) break;
    ifNoneMatch.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace netlab
