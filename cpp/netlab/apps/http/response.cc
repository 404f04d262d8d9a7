#include "netlab/apps/http/response.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace netlab::apps::http {

std::string_view statusText(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 418:
      return "I'm a teapot";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

namespace {

// Written by hand rather than with strftime, whose day and month names follow LC_TIME.
size_t formatDate(time_t now, char* text, size_t size) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm utc;
  ::gmtime_r(&now, &utc);
  int n = std::snprintf(text, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[utc.tm_wday],
                        utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour,
                        utc.tm_min, utc.tm_sec);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

// What starts every head, remade when the second or the status changes: the status line,
// Server and Date. One thread-local block, since each thread-local variable of a shared
// library costs a lookup call on every use.
struct HeadCache {
  time_t second = -1;
  char date[64];
  size_t dateLength = 0;
  int status = -1;
  std::string prefix;  // "HTTP/1.1 200 OK\r\nServer: netlab\r\nDate: ...\r\n"
};

HeadCache& headCache() {
  thread_local HeadCache cache;
  time_t now = ::time(nullptr);
  if (now != cache.second) {
    cache.dateLength = formatDate(now, cache.date, sizeof cache.date);
    cache.second = now;
    cache.status = -1;
  }
  return cache;
}

std::string_view headPrefix(int status) {
  HeadCache& cache = headCache();
  if (status != cache.status) {
    char code[16];
    auto [end, ec] = std::to_chars(code, code + sizeof code, status);
    std::string& p = cache.prefix;
    p.assign("HTTP/1.1 ");
    p.append(code, end);
    p += ' ';
    p += statusText(status);
    p += "\r\nServer: netlab\r\nDate: ";
    p.append(cache.date, cache.dateLength);
    p += "\r\n";
    cache.status = status;
  }
  return cache.prefix;
}

// "Name: value\r\n" with one bounds check.
void appendField(std::string& out, std::string_view nameColonSpace, std::string_view value) {
  size_t at = out.size();
  out.resize(at + nameColonSpace.size() + value.size() + 2);
  char* p = out.data() + at;
  std::memcpy(p, nameColonSpace.data(), nameColonSpace.size());
  p += nameColonSpace.size();
  std::memcpy(p, value.data(), value.size());
  p += value.size();
  p[0] = '\r';
  p[1] = '\n';
}

}  // namespace

std::string_view httpDate() {
  HeadCache& cache = headCache();
  return {cache.date, cache.dateLength};
}

// Every response passes here, so the head is made from a per-second cached prefix and a few
// appends rather than a dozen.
void appendHead(std::string& out, const ResponseHead& head) {
  out += headPrefix(head.status);
  if (!head.contentType.empty()) appendField(out, "Content-Type: ", head.contentType);
  if (head.contentLength == kChunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (head.contentLength >= 0) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, head.contentLength);
    appendField(out, "Content-Length: ", std::string_view(digits, end - digits));
  }
  if (head.close) out += "Connection: close\r\n";
  if (!head.close && head.keepAlive10) out += "Connection: keep-alive\r\n";
  out += head.extra;
  out += "\r\n";
}

}  // namespace netlab::apps::http
