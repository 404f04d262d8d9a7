#include "netlab/apps/pingpong.h"

#include <string>

#include "netlab/codec/frame_reader.h"

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
  PingPongHandler(std::shared_ptr<const Codec> lines, size_t maxLine)
      : reader_(std::move(lines)), maxLine_(maxLine) {}

  size_t onData(Conn& conn, Buffer& input) override {
    size_t lines = 0;
    FrameError error;
    bool ok = reader_.drain(
        input, [&](const FrameView& line) { reply(conn, line.payload); }, lines, error,
        [&] { return conn.budgetLeft(); });
    if (!ok) {
      conn.send("error: line too long (max " + std::to_string(maxLine_) + " bytes)\n");
      conn.fail("line too long");
    }
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

  FrameReader reader_;
  size_t maxLine_;
  std::string scratch_;
};

}  // namespace

const std::vector<Field<PingPongOptions>>& Fields<PingPongOptions>::fields() {
  static const std::vector<Field<PingPongOptions>> table = {
      number("max_line", &PingPongOptions::maxLine, 1, kMaxLineLimit, "bytes",
             "longest line; a longer one gets an error line and a close"),
  };
  return table;
}

PingPongProtocol::PingPongProtocol(size_t maxLine) : maxLine_(maxLine) {
  Error unused;  // maxLine >= 1 is checked with the options
  lines_ = makeLineCodec("\n", maxLine, /*stripCr=*/true, &unused);
}

std::unique_ptr<Handler> PingPongProtocol::newHandler() {
  return std::make_unique<PingPongHandler>(lines_, maxLine_);
}

}  // namespace netlab
