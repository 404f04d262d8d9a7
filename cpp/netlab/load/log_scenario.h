// LogServer's load: `log`, the text protocol with its acknowledgements (LOG|INFO||<message>
// answered OK|<id>), and `syslog`, RFC 5424 messages at a rate, octet-counted or LF-framed
// (framing=), one way: syslog over TCP answers nothing, so a message is done once written,
// and its latency is how late it went out (a server that stops reading makes it late).
#pragma once

#include <memory>

#include "netlab/load/scenario.h"

namespace netlab {

std::unique_ptr<Scenario> makeLogScenario(const LoadConfig& config);
std::unique_ptr<Scenario> makeSyslogScenario(const LoadConfig& config);

}  // namespace netlab
