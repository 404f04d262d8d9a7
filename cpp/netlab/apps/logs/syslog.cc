#include "netlab/apps/logs/syslog.h"

#include <time.h>

#include <array>

namespace netlab::logs {
namespace {

// The next space-separated token, removed from `s` with its space.
std::string_view token(std::string_view& s) {
  size_t sp = s.find(' ');
  std::string_view t = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
  return t;
}

std::string_view nilable(std::string_view t) { return t == "-" ? std::string_view{} : t; }

// RFC 5424 STRUCTURED-DATA: "-" or one or more [id param="value" ...] elements, where a
// value may hold \" \] and \\ escapes. Its length, or npos when malformed.
size_t structuredDataLength(std::string_view s) {
  if (s.substr(0, 1) == "-") return 1;
  size_t i = 0;
  while (i < s.size() && s[i] == '[') {
    bool quoted = false;
    for (++i; i < s.size(); ++i) {
      char c = s[i];
      if (quoted && c == '\\') {
        if (++i == s.size()) return std::string_view::npos;  // an escape with nothing to escape
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ']' && !quoted) {
        break;
      }
    }
    if (i == s.size()) return std::string_view::npos;
    ++i;  // past ']'
  }
  return i == 0 ? std::string_view::npos : i;
}

bool rfc5424(std::string_view s, LogRecord& out) {
  if (s.substr(0, 2) != "1 ") return false;
  s.remove_prefix(2);
  std::string_view time = token(s);
  std::string_view host = token(s), app = token(s), procid = token(s), msgid = token(s);
  if (time.empty() || host.empty() || app.empty() || procid.empty() || msgid.empty()) return false;
  if (time != "-") {
    auto t = parseTimestamp(time);
    if (!t) return false;
    out.timeMs = *t;
  }
  size_t sd = structuredDataLength(s);
  if (sd == std::string_view::npos) return false;
  std::string_view data = s.substr(0, sd);
  std::string_view msg = sd < s.size() && s[sd] == ' ' ? s.substr(sd + 1) : s.substr(sd);
  if (msg.substr(0, 3) == "\xEF\xBB\xBF") msg.remove_prefix(3);  // the UTF-8 BOM
  out.host = std::string(nilable(host));
  out.app = std::string(nilable(app));
  out.message = std::string(data == "-" ? "" : data);
  if (!out.message.empty() && !msg.empty()) out.message += ' ';
  out.message += msg;
  return true;
}

// Mmm dd hh:mm:ss, in the year that puts it nearest to now (RFC 3164 has no year).
bool bsdTime(std::string_view s, int64_t nowMs, int64_t& outMs) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':') return false;
  size_t m = kMonths.find(s.substr(0, 3));
  if (m == std::string_view::npos || m % 3 != 0) return false;
  auto num = [&](size_t at) {
    char a = s[at] == ' ' ? '0' : s[at], b = s[at + 1];
    if (a < '0' || a > '9' || b < '0' || b > '9') return -1;
    return (a - '0') * 10 + (b - '0');
  };
  int day = num(4), h = num(7), mi = num(10), sec = num(13);
  if (day < 1 || h < 0 || mi < 0 || sec < 0) return false;
  time_t now = static_cast<time_t>(nowMs / 1000);
  struct tm tm;
  ::gmtime_r(&now, &tm);
  int year = tm.tm_year;
  tm = {};
  tm.tm_year = year;
  tm.tm_mon = static_cast<int>(m / 3);
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t ms = int64_t{::timegm(&tm)} * 1000;
  if (ms > nowMs + 86400000) {  // December's log read in January
    tm.tm_year = year - 1;
    ms = int64_t{::timegm(&tm)} * 1000;
  }
  outMs = ms;
  return true;
}

bool rfc3164(std::string_view s, int64_t nowMs, LogRecord& out) {
  int64_t ms = 0;
  if (!bsdTime(s, nowMs, ms)) return false;
  s.remove_prefix(s.size() > 15 && s[15] == ' ' ? 16 : 15);
  out.timeMs = ms;
  out.host = std::string(token(s));
  // TAG[pid]: MSG. A message without a tag is the rest as it is.
  size_t colon = s.find(": ");
  size_t space = s.find(' ');
  if (colon != std::string_view::npos && (space == std::string_view::npos || colon < space)) {
    std::string_view tag = s.substr(0, colon);
    out.app = std::string(tag.substr(0, tag.find('[')));
    out.message = std::string(s.substr(colon + 2));
  } else {
    out.message = std::string(s);
  }
  return true;
}

}  // namespace

bool parseSyslog(std::string_view text, int64_t nowMs, LogRecord& out) {
  out.timeMs = nowMs;
  // rsyslog's omfwd templates end a message with LF even inside an octet-counted frame: the
  // line end is framing, not part of the message.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  auto raw = [&] {
    out.message = std::string(text);
    out.flags |= kParseError;
    return false;
  };
  if (text.size() < 3 || text[0] != '<') return raw();
  size_t close = text.find('>');
  if (close == std::string_view::npos || close < 2 || close > 4) return raw();
  int pri = 0;
  for (size_t i = 1; i < close; ++i) {
    if (text[i] < '0' || text[i] > '9') return raw();
    pri = pri * 10 + (text[i] - '0');
  }
  if (pri > 191) return raw();
  out.level = pri % 8;
  std::string_view rest = text.substr(close + 1);
  LogRecord parsed = out;
  if (rfc5424(rest, parsed) || rfc3164(rest, nowMs, parsed)) {
    out = std::move(parsed);
    return true;
  }
  return raw();
}

}  // namespace netlab::logs
