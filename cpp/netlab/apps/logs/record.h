// One log as LogServer stores it, and the text forms of its fields: syslog's severities by
// name, timestamps in and out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netlab::logs {

enum Flag : uint32_t {
  kTruncated = 1,   // longer than the largest message: the rest was dropped, and said so
  kParseError = 2,  // not the format its framing announced: kept as raw text
};

struct LogRecord {
  int64_t id = 0;
  int64_t timeMs = 0;      // when it happened, as the sender said (ms since the epoch, UTC)
  int64_t receivedMs = 0;  // when the server parsed it
  int level = 6;           // syslog severity: 0 emergency .. 7 debug
  std::string host, app, message;
  uint32_t flags = 0;
  std::string client;  // with seq: the sender's idempotency key ("" when none)
  int64_t seq = -1;
};

/// A level by name (any case: EMERG, ALERT, CRIT/FATAL, ERROR/ERR, WARN/WARNING, NOTICE,
/// INFO, DEBUG/TRACE) or as a digit 0-7.
std::optional<int> parseLevel(std::string_view text);
/// The name a level is shown with (EMERG ... DEBUG).
std::string_view levelName(int level);

/// Unix seconds ("1700000000", "1700000000.25") or ISO 8601 / RFC 3339 ("2026-11-23T06:40:00Z",
/// with a fraction and an offset, or a space for the T): ms since the epoch.
std::optional<int64_t> parseTimestamp(std::string_view text);
/// RFC 3339 in UTC with milliseconds: 2026-11-23T06:40:00.000Z.
std::string formatTimestamp(int64_t ms);
int64_t wallMs();

/// LOGK's message field: backslash, CR and LF escaped (\\, \r, \n), so one line holds any
/// message; unescapeMessage() undoes it (an unknown escape is kept as it is).
std::string escapeMessage(std::string_view message);
std::string unescapeMessage(std::string_view text);
/// A sequence number: decimal digits, 0 .. 2^63-1.
std::optional<int64_t> parseSequence(std::string_view text);
/// 16 random hex digits (getrandom; the clock if that fails): client ids' unique part.
std::string randomHex64();
/// A client id: 1 to 128 printable ASCII characters, no space and no '|'.
bool validClientId(std::string_view id);
/// The text protocol's keyed line for `r` (LOGK|seq|level|timestamp|host|app|message\n).
std::string keyedLine(const LogRecord& r, int64_t seq);
/// `r` as an RFC 5424 message (facility user; host and app as given, "-" when empty).
std::string rfc5424(const LogRecord& r);

}  // namespace netlab::logs
