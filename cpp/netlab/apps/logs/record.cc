#include "netlab/apps/logs/record.h"

#include <sys/random.h>
#include <time.h>

#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>

namespace netlab::logs {
namespace {

bool sameWord(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// Digits at `at`, exactly `n` of them.
bool digits(std::string_view s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<int> parseLevel(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, int>, 14> kNames = {{
      {"EMERG", 0},
      {"EMERGENCY", 0},
      {"ALERT", 1},
      {"CRIT", 2},
      {"CRITICAL", 2},
      {"FATAL", 2},
      {"ERROR", 3},
      {"ERR", 3},
      {"WARN", 4},
      {"WARNING", 4},
      {"NOTICE", 5},
      {"INFO", 6},
      {"DEBUG", 7},
      {"TRACE", 7},
  }};
  if (text.size() == 1 && text[0] >= '0' && text[0] <= '7') return text[0] - '0';
  for (const auto& [name, level] : kNames) {
    if (sameWord(text, name)) return level;
  }
  return std::nullopt;
}

std::string_view levelName(int level) {
  static constexpr std::array<std::string_view, 8> kNames = {"EMERG", "ALERT",  "CRIT", "ERROR",
                                                             "WARN",  "NOTICE", "INFO", "DEBUG"};
  return level >= 0 && level < 8 ? kNames[static_cast<size_t>(level)] : "INFO";
}

int64_t wallMs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

std::optional<int64_t> parseTimestamp(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool numeric = true;
  for (char c : s) numeric = numeric && ((c >= '0' && c <= '9') || c == '.');
  if (numeric) {
    size_t dot = s.find('.');
    int64_t sec = 0;
    std::string_view whole = s.substr(0, dot);
    if (whole.empty() || whole.size() > 12) return std::nullopt;
    for (char c : whole) sec = sec * 10 + (c - '0');
    int64_t ms = 0;
    if (dot != std::string_view::npos) {
      std::string_view frac = s.substr(dot + 1);
      if (frac.find('.') != std::string_view::npos) return std::nullopt;
      for (size_t i = 0; i < 3; ++i) ms = ms * 10 + (i < frac.size() ? frac[i] - '0' : 0);
    }
    return sec * 1000 + ms;
  }
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm]
  struct tm tm {};
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t ms = int64_t{::timegm(&tm)} * 1000;
  size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    int64_t frac = 0;
    size_t n = 0;
    for (++at; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at, ++n) {
      if (n < 3) frac = frac * 10 + (s[at] - '0');
    }
    if (n == 0) return std::nullopt;
    for (; n < 3; ++n) frac *= 10;
    ms += frac;
  }
  if (at == s.size()) return ms;  // no zone: taken as UTC
  if ((s[at] == 'Z' || s[at] == 'z') && at + 1 == s.size()) return ms;
  int oh, om;
  if ((s[at] == '+' || s[at] == '-') && at + 6 == s.size() && digits(s, at + 1, 2, oh) &&
      s[at + 3] == ':' && digits(s, at + 4, 2, om)) {
    int64_t offset = (int64_t{oh} * 60 + om) * 60000;
    return s[at] == '+' ? ms - offset : ms + offset;
  }
  return std::nullopt;
}

std::string formatTimestamp(int64_t ms) {
  time_t sec = static_cast<time_t>(ms / 1000);
  struct tm tm;
  ::gmtime_r(&sec, &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return out;
}

std::string escapeMessage(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string unescapeMessage(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\\' || i + 1 == text.size()) {
      out += c;
      continue;
    }
    char next = text[i + 1];
    if (next == 'n' || next == 'r' || next == '\\') {
      out += next == 'n' ? '\n' : next == 'r' ? '\r' : '\\';
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<int64_t> parseSequence(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string randomHex64() {
  uint64_t v = 0;
  if (::getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v))
    v = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
  return out;
}

bool validClientId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= ' ' || c > '~' || c == '|') return false;
  }
  return true;
}

namespace {

// Syslog's HOSTNAME and APP-NAME: printable ASCII without spaces; '|' would split LOGK.
std::string headerField(std::string_view text, size_t max) {
  if (text.empty()) return "-";
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (c <= ' ' || c > '~' || c == '|') c = '_';
  }
  return out;
}

}  // namespace

std::string keyedLine(const LogRecord& r, int64_t seq) {
  std::string line = "LOGK|" + std::to_string(seq) + "|" + std::string(levelName(r.level)) + "|" +
                     formatTimestamp(r.timeMs) + "|" +
                     (r.host.empty() ? "" : headerField(r.host, 255)) + "|" +
                     (r.app.empty() ? "" : headerField(r.app, 48)) + "|";
  line += escapeMessage(r.message);
  line += '\n';
  return line;
}

std::string rfc5424(const LogRecord& r) {
  constexpr int kFacilityUser = 1;
  std::string out = "<" + std::to_string(kFacilityUser * 8 + r.level) + ">1 " +
                    formatTimestamp(r.timeMs) + " " + headerField(r.host, 255) + " " +
                    headerField(r.app, 48) + " - - - ";
  out += r.message;
  return out;
}

}  // namespace netlab::logs
