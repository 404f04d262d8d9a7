// libFuzzer target for what the log collector parses from the wire: syslog messages (RFC 5424
// and RFC 3164), the query port's filters, and the text protocol's fields (levels,
// timestamps, sequence numbers, client ids, escaped messages). The first byte picks the
// parser; the rest is its input. Beyond "no crash, no leak, no UB": a message that fails to
// parse is kept whole (but for its line end), escaping round-trips, and a record written as
// RFC 5424 parses back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "netlab/apps/logs/query_handler.h"
#include "netlab/apps/logs/record.h"
#include "netlab/apps/logs/syslog.h"

namespace {

using netlab::logs::LogRecord;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr int64_t kNowMs = 1795428000000;  // 2026-11-23, so RFC 3164's year is fixed

void syslogMessage(std::string_view text) {
  LogRecord r;
  bool ok = netlab::logs::parseSyslog(text, kNowMs, r);
  check(r.level >= 0 && r.level <= 7);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (!ok) check(r.message == text && (r.flags & netlab::logs::kParseError));  // kept whole
}

void fields(std::string_view text) {
  (void)netlab::logs::parseLevel(text);
  if (auto ms = netlab::logs::parseTimestamp(text)) (void)netlab::logs::formatTimestamp(*ms);
  if (auto seq = netlab::logs::parseSequence(text)) check(*seq >= 0);
  (void)netlab::logs::validClientId(text);
  check(netlab::logs::unescapeMessage(netlab::logs::escapeMessage(text)) == text);
  (void)netlab::logs::unescapeMessage(text);
}

// The first line's two words as host and app (rfc5424() makes them tokens), the rest as the
// message.
void roundTrip(std::string_view text) {
  LogRecord r;
  size_t cut = text.find('\n');
  std::string_view head = text.substr(0, cut);
  r.message = cut == std::string_view::npos ? "" : std::string(text.substr(cut + 1));
  size_t space = head.find(' ');
  r.host = std::string(head.substr(0, space));
  r.app = space == std::string_view::npos ? "" : std::string(head.substr(space + 1));
  r.level = static_cast<int>(text.size() % 8);
  r.timeMs = kNowMs + static_cast<int64_t>(text.size());
  std::string wire = netlab::logs::rfc5424(r);
  LogRecord back;
  check(netlab::logs::parseSyslog(wire, kNowMs, back));
  check(back.level == r.level && back.timeMs == r.timeMs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      syslogMessage(text);
      break;
    case 1: {
      netlab::logs::Filter filter;
      (void)netlab::logs::parseFilter(text, 1000, filter);
      break;
    }
    case 2:
      fields(text);
      break;
    default:
      roundTrip(text);
  }
  return 0;
}
