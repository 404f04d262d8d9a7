// Syslog messages as LogRecords: RFC 5424 (<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG)
// and RFC 3164 (<PRI>Mmm dd hh:mm:ss HOST TAG: MSG), told apart by what follows the PRI.
#pragma once

#include <cstdint>
#include <string_view>

#include "netlab/apps/logs/record.h"

namespace netlab::logs {

/// Fills `out` (level, time, host, app, message) from one syslog message. A message that is
/// neither form is kept whole as the message, with kParseError set; false then.
bool parseSyslog(std::string_view text, int64_t nowMs, LogRecord& out);

}  // namespace netlab::logs
