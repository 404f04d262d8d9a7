#include "netlab/apps/http_proxy/rewrite.h"

#include <cstdio>

#include "netlab/apps/http/routes.h"

namespace netlab::apps::proxy {
namespace {

using netlab::http::equalsIgnoreCase;

// Fields this hop writes itself: a client's own X-Forwarded-Proto or -Host would be taken for
// the proxy's word.
bool forwarding(std::string_view name) {
  return equalsIgnoreCase(name, "x-forwarded-for") || equalsIgnoreCase(name, "via") ||
         equalsIgnoreCase(name, "x-forwarded-proto") ||
         equalsIgnoreCase(name, "x-forwarded-host") || equalsIgnoreCase(name, "host");
}

void appendField(std::string& out, std::string_view name, std::string_view value) {
  ((((out += name) += ": ") += value) += "\r\n");
}

// Existing values first, then this hop's, as one comma-separated list.
void appendJoined(std::string& out, const netlab::http::Head& head, std::string_view name,
                  std::string_view ours) {
  std::string value;
  for (const netlab::http::Field& f : head.fields) {
    if (equalsIgnoreCase(f.name, name)) (value += value.empty() ? "" : ", ") += f.value;
  }
  if (!ours.empty()) (value += value.empty() ? "" : ", ") += ours;
  appendField(out, name, value);
}

}  // namespace

bool isHopByHop(const netlab::http::Head& head, std::string_view name) {
  static constexpr std::string_view kAlways[] = {"connection",
                                                 "keep-alive",
                                                 "proxy-connection",
                                                 "proxy-authenticate",
                                                 "proxy-authorization",
                                                 "te",
                                                 "trailer",
                                                 "transfer-encoding",
                                                 "upgrade",
                                                 "content-length"};
  for (std::string_view h : kAlways) {
    if (equalsIgnoreCase(name, h)) return true;  // content-length: framing is rewritten
  }
  for (const netlab::http::Field& f : head.fields) {  // and whatever Connection names (§7.6.1)
    if (equalsIgnoreCase(f.name, "connection") && netlab::http::listHasToken(f.value, name))
      return true;
  }
  return false;
}

void appendUpstreamRequest(std::string& out, const netlab::http::Head& head,
                           std::string_view clientIp, std::string_view upstream,
                           const HeaderEdits& edits) {
  auto [path, query] = apps::http::splitTarget(head.target);
  (((out += head.method) += ' ') += path);
  if (!query.empty()) (out += '?') += query;
  out += " HTTP/1.1\r\n";
  // Host: an absolute-form target's authority wins (RFC 9112 §3.2.2); a request without one
  // (HTTP/1.0) gets the upstream's, since HTTP/1.1 requires it.
  std::string_view host = upstream;
  if (const netlab::http::Field* given = head.find("host")) host = given->value;
  if (head.target.substr(0, 7) == "http://") {
    std::string_view authority = head.target.substr(7);
    host = authority.substr(0, authority.find('/'));
  }
  const std::string* setHost = edits.valueSet("host");
  appendField(out, "Host", setHost ? std::string_view(*setHost) : host);
  bool edited = !edits.empty();
  for (const netlab::http::Field& f : head.fields) {
    if (isHopByHop(head, f.name) || forwarding(f.name)) continue;
    if (edited && edits.removes(f.name)) continue;
    appendField(out, f.name, f.value);
  }
  if (!edited || !edits.removes("x-forwarded-for")) {
    appendJoined(out, head, "X-Forwarded-For", clientIp);
  }
  if (!edited || !edits.removes("x-forwarded-proto")) {
    appendField(out, "X-Forwarded-Proto", "http");
  }
  if (!edited || !edits.removes("x-forwarded-host")) appendField(out, "X-Forwarded-Host", host);
  if (!edited || !edits.removes("via")) {
    appendJoined(out, head, "Via", head.versionMinor == 0 ? "1.0 netlab" : "1.1 netlab");
  }
  for (const auto& [name, value] : edits.set) {
    if (!netlab::http::equalsIgnoreCase(name, "host")) appendField(out, name, value);
  }
  if (head.framing == netlab::http::Framing::kChunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (head.contentLength >= 0) {
    appendField(out, "Content-Length", std::to_string(head.contentLength));
  }
  out += "\r\n";
}

ClientFraming appendClientResponse(std::string& out, const netlab::http::Head& head, bool toHead,
                                   bool client10, bool close, bool gzip, std::string_view extra) {
  out += "HTTP/1.1 ";
  out += std::to_string(head.status);
  (out += ' ') += head.reason;
  out += "\r\n";
  for (const netlab::http::Field& f : head.fields) {
    if (isHopByHop(head, f.name)) continue;
    if (gzip && equalsIgnoreCase(f.name, "vary")) continue;  // joined below
    if (gzip && equalsIgnoreCase(f.name, "etag") && !f.value.starts_with("W/")) {
      appendField(out, f.name, "W/" + std::string(f.value));
      continue;
    }
    appendField(out, f.name, f.value);
  }
  if (gzip) {
    out += "Content-Encoding: gzip\r\n";
    const netlab::http::Field* vary = head.find("vary");
    if (!vary || !netlab::http::listHasToken(vary->value, "accept-encoding")) {
      appendJoined(out, head, "Vary", "Accept-Encoding");
    } else {
      appendJoined(out, head, "Vary", {});
    }
  }
  ClientFraming framing = ClientFraming::kNone;
  if (head.framing == netlab::http::Framing::kLength && !gzip) {
    framing = ClientFraming::kLength;
  } else if (head.framing != netlab::http::Framing::kNone) {
    framing = client10 ? ClientFraming::kUntilClose : ClientFraming::kChunked;
  }
  // Content-Length travels whenever it frames this body, 0 included, and on a HEAD response
  // it keeps the length the body would have had (RFC 9110 §9.3.2, §8.6).
  bool bodiless = head.informational() || head.status == 204 || head.status == 304;
  bool delimited = framing == ClientFraming::kChunked || framing == ClientFraming::kUntilClose;
  if (!bodiless && !delimited && head.contentLength >= 0) {
    appendField(out, "Content-Length", std::to_string(head.contentLength));
  }
  if (framing == ClientFraming::kChunked && !toHead) out += "Transfer-Encoding: chunked\r\n";
  out += extra;
  if (close || framing == ClientFraming::kUntilClose) {
    out += "Connection: close\r\n";
  } else if (client10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return toHead ? ClientFraming::kNone : framing;
}

void appendChunk(std::string& out, std::string_view piece) {
  if (piece.empty()) return;
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
  out.append(size, static_cast<size_t>(n));
  (out += piece) += "\r\n";
}

}  // namespace netlab::apps::proxy
