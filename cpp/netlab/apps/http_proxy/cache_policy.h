// What RFC 9111 says a shared cache may store and for how long, read from message heads:
// Cache-Control directives, HTTP dates, freshness lifetime and age, and validator matching.
// Heuristic freshness is not used: a response is fresh only for as long as it says.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "netlab/http/message.h"

namespace netlab {

struct CacheControl {
  bool noStore = false, noCache = false, isPrivate = false, isPublic = false;
  bool mustRevalidate = false;
  int64_t maxAge = -1, sMaxAge = -1;  // seconds; -1: absent
};

/// Every Cache-Control field of `head` (a request's Pragma: no-cache counts as no-cache when
/// it has no Cache-Control, RFC 9111 §5.4).
CacheControl parseCacheControl(const netlab::http::Head& head);

/// An HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms) as seconds since the
/// epoch; nullopt when it is not one.
std::optional<int64_t> parseHttpDate(std::string_view text);

/// Seconds the response stays fresh (RFC 9111 §4.2.1): s-maxage, else max-age, else Expires
/// minus Date (an Expires that is not a date: 0). nullopt when it says nothing.
std::optional<int64_t> freshnessLifetime(const netlab::http::Head& response,
                                         const CacheControl& cc);

/// The age the response had when it arrived (RFC 9111 §4.2.3): the larger of its Age field
/// and how far its Date lies behind `receivedAt` (seconds since the epoch).
int64_t initialAge(const netlab::http::Head& response, int64_t receivedAt);

/// Whether a shared cache may store the response to a GET (RFC 9111 §3): a status it
/// understands, no no-store or private, no Vary: *, no Set-Cookie (nginx's default), freshness
/// or no-cache stated, and a request without Authorization unless the response allows it.
bool storable(const netlab::http::Head& request, const netlab::http::Head& response,
              const CacheControl& cc);

/// If-None-Match's list against an entity tag, by weak comparison (RFC 9110 §13.1.2).
bool noneMatchHits(std::string_view ifNoneMatch, std::string_view etag);

}  // namespace netlab
