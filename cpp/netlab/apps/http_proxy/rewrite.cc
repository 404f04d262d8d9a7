#include "netlab/apps/http_proxy/rewrite.h"

#include <cstdio>

#include "netlab/apps/http/routes.h"

namespace netlab::apps::proxy {
namespace {

using netlab::http::equalsIgnoreCase;

bool hopByHop(const netlab::http::Head& head, std::string_view name) {
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

bool forwarding(std::string_view name) {
  return equalsIgnoreCase(name, "x-forwarded-for") || equalsIgnoreCase(name, "via");
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
  (value += value.empty() ? "" : ", ") += ours;
  appendField(out, name, value);
}

}  // namespace

void appendUpstreamRequest(std::string& out, const netlab::http::Head& head,
                           std::string_view clientIp) {
  auto [path, query] = apps::http::splitTarget(head.target);
  (((out += head.method) += ' ') += path);
  if (!query.empty()) (out += '?') += query;
  out += " HTTP/1.1\r\n";
  for (const netlab::http::Field& f : head.fields) {
    if (!hopByHop(head, f.name) && !forwarding(f.name)) appendField(out, f.name, f.value);
  }
  appendJoined(out, head, "X-Forwarded-For", clientIp);
  if (!head.find("x-forwarded-proto")) appendField(out, "X-Forwarded-Proto", "http");
  if (const netlab::http::Field* host = head.find("host"); host && !head.find("x-forwarded-host")) {
    appendField(out, "X-Forwarded-Host", host->value);
  }
  appendJoined(out, head, "Via", head.versionMinor == 0 ? "1.0 netlab" : "1.1 netlab");
  if (head.framing == netlab::http::Framing::kChunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (head.contentLength >= 0) {
    appendField(out, "Content-Length", std::to_string(head.contentLength));
  }
  out += "\r\n";
}

ClientFraming appendClientResponse(std::string& out, const netlab::http::Head& head, bool toHead,
                                   bool client10, bool close) {
  out += "HTTP/1.1 ";
  out += std::to_string(head.status);
  (out += ' ') += head.reason;
  out += "\r\n";
  for (const netlab::http::Field& f : head.fields) {
    if (!hopByHop(head, f.name)) appendField(out, f.name, f.value);
  }
  ClientFraming framing = ClientFraming::kNone;
  if (head.framing == netlab::http::Framing::kLength) {
    framing = ClientFraming::kLength;
  } else if (head.framing != netlab::http::Framing::kNone) {
    framing = client10 ? ClientFraming::kUntilClose : ClientFraming::kChunked;
  }
  // A HEAD response keeps the length the body would have had (RFC 9110 §9.3.2).
  if (head.contentLength >= 0 && (framing == ClientFraming::kLength || toHead)) {
    appendField(out, "Content-Length", std::to_string(head.contentLength));
  }
  if (framing == ClientFraming::kChunked && !toHead) out += "Transfer-Encoding: chunked\r\n";
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
