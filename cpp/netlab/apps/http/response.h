// Writing response heads: the status line, the fields every response carries (Server, a Date
// formatted once a second per thread, framing, Connection), then the route's own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace netlab::apps::http {

/// The reason phrase of a status code ("" for codes without one).
std::string_view statusText(int status);

/// The IMF-fixdate of the current second (RFC 9110 §5.6.7), made once a second per thread.
std::string_view httpDate();

constexpr int64_t kChunked = -1;   // the body follows with Transfer-Encoding: chunked
constexpr int64_t kNoLength = -2;  // no body and no Content-Length (1xx, 204, 304)

struct ResponseHead {
  int status = 200;
  std::string_view contentType;  // omitted when empty
  int64_t contentLength = 0;     // or kChunked, kNoLength
  bool close = false;            // Connection: close, and the server closes after it
  bool keepAlive10 = false;      // an HTTP/1.0 client that asked for keep-alive
  std::string_view extra;        // further fields, each ending in CRLF
};

void appendHead(std::string& out, const ResponseHead& head);

}  // namespace netlab::apps::http
