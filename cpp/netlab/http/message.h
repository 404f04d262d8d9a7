// What the HTTP/1.1 parser hands out: a message head (request or status line and header
// fields) whose strings are views into the parser's own copy of the head bytes, valid until
// the parser reads the next head. Bodies are never part of it: they stream as pieces.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace netlab::http {

struct Field {
  std::string_view name;   // as received; compare with equalsIgnoreCase
  std::string_view value;  // surrounding whitespace removed (RFC 9112 §5.1 OWS)
};

/// How the body after a head is delimited (RFC 9112 §6.3).
enum class Framing : uint8_t {
  kNone,        // no body: a request without one, HEAD responses, 1xx, 204, 304
  kLength,      // Content-Length bytes
  kChunked,     // chunked transfer coding, ending in a zero-size chunk and trailers
  kUntilClose,  // a response without either: the body ends when the server closes
};

struct Head {
  bool isRequest = true;
  std::string_view method, target;  // requests
  int status = 0;                   // responses
  std::string_view reason;
  int versionMinor = 1;  // HTTP/1.x; minors above 1 are treated as 1.1 (RFC 9110 §6.2)
  std::vector<Field> fields;

  Framing framing = Framing::kNone;
  int64_t contentLength = -1;   // the Content-Length value when present, else -1
  bool keepAlive = true;        // the connection carries another message after this one
  bool expectContinue = false;  // "Expect: 100-continue" (RFC 9110 §10.1.1)

  /// The first field called `name` (any case), or null.
  const Field* find(std::string_view name) const;
  /// A response whose status says more responses follow for the same request.
  bool informational() const { return !isRequest && status >= 100 && status < 200; }
};

/// ASCII case-insensitive equality (field names, tokens); inline, since every field of every
/// head is compared with a few known names.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}
/// Whether a comma-separated list (Connection, Transfer-Encoding) holds `token`, any case.
bool listHasToken(std::string_view list, std::string_view token);
/// `s` without leading and trailing spaces and tabs.
inline std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace netlab::http
