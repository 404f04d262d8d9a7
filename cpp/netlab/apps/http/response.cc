#include "netlab/apps/http/response.h"

#include <cstdio>
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

// Written by hand rather than with strftime, whose day and month names follow LC_TIME.
std::string_view httpDate() {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local time_t cachedSecond = -1;
  thread_local char text[64];
  thread_local size_t length = 0;
  time_t now = ::time(nullptr);
  if (now != cachedSecond) {
    struct tm utc;
    ::gmtime_r(&now, &utc);
    int n = std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                          kDays[utc.tm_wday], utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900,
                          utc.tm_hour, utc.tm_min, utc.tm_sec);
    length = n > 0 ? static_cast<size_t>(n) : 0;
    cachedSecond = now;
  }
  return {text, length};
}

void appendHead(std::string& out, const ResponseHead& head) {
  out += "HTTP/1.1 ";
  out += std::to_string(head.status);
  out += ' ';
  out += statusText(head.status);
  out += "\r\nServer: netlab\r\nDate: ";
  out += httpDate();
  out += "\r\n";
  if (!head.contentType.empty()) {
    out += "Content-Type: ";
    out += head.contentType;
    out += "\r\n";
  }
  if (head.contentLength == kChunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (head.contentLength >= 0) {
    out += "Content-Length: ";
    out += std::to_string(head.contentLength);
    out += "\r\n";
  }
  if (head.close) out += "Connection: close\r\n";
  if (!head.close && head.keepAlive10) out += "Connection: keep-alive\r\n";
  out += head.extra;
  out += "\r\n";
}

}  // namespace netlab::apps::http
