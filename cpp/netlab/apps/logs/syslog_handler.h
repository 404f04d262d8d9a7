// The syslog port: RFC 5424 and RFC 3164 messages over TCP in either RFC 6587 framing, told
// apart per message: octet counting ("<length> <message>", a digit first) or a line ending
// in LF (a '<' first). A frame longer than max_message is stored truncated and flagged and
// the rest of it skipped; a message in neither format is kept whole, flagged as a parse
// error. Syslog has no acknowledgement: nothing is written back.
#pragma once

#include "netlab/apps/logs/log_server.h"

namespace netlab::logs {

class SyslogHandler final : public Handler {
 public:
  static constexpr size_t kMaxLengthDigits = 10;
  // Longer frames are truncated and their tails skipped, up to the larger of these; a
  // frame claiming more is refused.
  static constexpr size_t kMaxFrameBytes = 64 << 20;
  static constexpr size_t kMaxSkipFactor = 16;  // x max_message
  explicit SyslogHandler(LogSyslogProtocol& protocol) : protocol_(protocol) {}
  size_t onData(Conn& conn, Buffer& input) override;

 private:
  /// One framed message at the front of `input`, consumed; false when more bytes are needed.
  bool nextFrame(Conn& conn, Buffer& input);
  void message(Conn& conn, std::string_view text, bool truncated);

  LogSyslogProtocol& protocol_;
  size_t skip_ = 0;            // octets of a truncated frame still to drop
  bool skippingLine_ = false;  // the rest of a truncated LF-framed message
  ReadHolds holds_;
};

}  // namespace netlab::logs
