#include "netlab/apps/pingpong.h"

#include <string>

namespace netlab {
namespace {

bool isPing(std::string_view line) {
  if (line.size() != 4) return false;
  static constexpr char kPing[] = "ping";
  for (size_t i = 0; i < 4; ++i) {
    if ((line[i] | 0x20) != kPing[i]) return false;  // ASCII case folding
  }
  return true;
}

class PingPongHandler final : public Handler {
 public:
  explicit PingPongHandler(size_t maxLine) : maxLine_(maxLine) {}

  size_t onData(Conn& conn, Buffer& input) override {
    size_t lines = 0;
    for (;;) {
      size_t eol = input.find('\n');
      if (eol == Buffer::npos) break;
      std::string_view line(input.peek(), eol);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // telnet sends CRLF
      if (line.size() > maxLine_) return lines + tooLong(conn);
      reply(conn, line);
      input.consume(eol + 1);
      ++lines;
    }
    if (input.readable() > maxLine_ + 1) return lines + tooLong(conn);  // +1: a pending '\r'
    return lines;
  }

 private:
  void reply(Conn& conn, std::string_view line) {
    if (isPing(line)) {
      conn.send("pong\n");
      return;
    }
    scratch_.assign("received: ");
    scratch_.append(line);
    scratch_.push_back('\n');
    conn.send(scratch_);
  }

  size_t tooLong(Conn& conn) {
    conn.send("error: line too long (max " + std::to_string(maxLine_) + " bytes)\n");
    conn.fail("line too long");
    return 0;
  }

  size_t maxLine_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Handler> PingPongProtocol::newHandler() {
  return std::make_unique<PingPongHandler>(maxLine_);
}

}  // namespace netlab
