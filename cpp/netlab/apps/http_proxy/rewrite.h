// What a proxy changes in the messages it forwards (RFC 9110 §7.6): hop-by-hop fields are
// dropped (Connection, the fields it names, Keep-Alive, Proxy-*, TE, Trailer,
// Transfer-Encoding, Upgrade), the framing is written anew for the next hop, and the request
// gains X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Via.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "netlab/apps/http_proxy/filter.h"
#include "netlab/http/message.h"

namespace netlab::apps::proxy {

/// The request head for the upstream: origin-form target, HTTP/1.1, Host (the upstream's
/// "host:port" when the request has none), end-to-end fields, the forwarding fields, and
/// framing for `head`'s body (Content-Length, or chunked), with `edits` applied (a field set
/// replaces the client's; the forwarding fields may be removed, Host may only be set).
void appendUpstreamRequest(std::string& out, const netlab::http::Head& head,
                           std::string_view clientIp, std::string_view upstream,
                           const HeaderEdits& edits);

/// Whether `name` is a field of this hop only (RFC 9110 §7.6.1), or Content-Length, which
/// each hop writes anew: neither is forwarded nor stored.
bool isHopByHop(const netlab::http::Head& head, std::string_view name);

/// How a response body travels to the client.
enum class ClientFraming : uint8_t { kNone, kLength, kChunked, kUntilClose };

/// The response head for the client; returns how its body must be framed. `toHead`: the
/// request was HEAD; `client10`: the client speaks HTTP/1.0 (no chunked for it); `close`:
/// the proxy closes the client connection after this response; `gzip`: the body is
/// compressed on the way (gzip.h), so its length is unknown, it says Content-Encoding: gzip,
/// varies by Accept-Encoding, and its ETag is only a weak one (RFC 9110 §8.8.3). `extra`:
/// fields of the proxy's own, each ending in CRLF (X-Cache, Age).
ClientFraming appendClientResponse(std::string& out, const netlab::http::Head& head, bool toHead,
                                   bool client10, bool close, bool gzip = false,
                                   std::string_view extra = {});

/// One chunk of a chunked body (nothing for an empty piece), and the last chunk.
void appendChunk(std::string& out, std::string_view piece);
constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace netlab::apps::proxy
