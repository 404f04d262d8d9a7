#include "netlab/core/protocol_sniffer.h"

namespace netlab {

ProtocolSniffer::ProtocolSniffer(Choose choose, double timeoutSec, size_t maxPeek)
    : choose_(std::move(choose)), timeoutSec_(timeoutSec), maxPeek_(maxPeek) {}

void ProtocolSniffer::onOpen(Conn& conn) {
  timerArmed_ = true;
  timer_ = conn.runAfter(timeoutSec_, [this, &conn] {
    timerArmed_ = false;
    if (chosen_) return;
    std::string_view first = input_ ? input_->view() : std::string_view{};
    if (decide(conn, first, true) && input_ && !input_->empty()) chosen_->onData(conn, *input_);
  });
}

bool ProtocolSniffer::decide(Conn& conn, std::string_view first, bool final) {
  final = final || first.size() >= maxPeek_;
  chosen_ = choose_(first, final);
  if (!chosen_) {
    if (final) conn.fail("no protocol recognised");  // a chooser with no default
    return false;
  }
  if (timerArmed_) {
    conn.cancelTimer(timer_);
    timerArmed_ = false;
  }
  chosen_->onOpen(conn);
  return true;
}

size_t ProtocolSniffer::onData(Conn& conn, Buffer& input) {
  input_ = &input;
  if (!chosen_ && !decide(conn, input.view(), false)) return 0;
  return chosen_->onData(conn, input);
}

bool ProtocolSniffer::onEof(Conn& conn) {
  if (!chosen_) {
    std::string_view first = input_ ? input_->view() : std::string_view{};
    if (!decide(conn, first, true)) return false;
    if (input_ && !input_->empty()) chosen_->onData(conn, *input_);
  }
  return chosen_->onEof(conn);
}

void ProtocolSniffer::onDrained(Conn& conn) {
  if (chosen_) chosen_->onDrained(conn);
}

void ProtocolSniffer::onHighWater(Conn& conn, size_t queued) {
  if (chosen_) chosen_->onHighWater(conn, queued);
}

void ProtocolSniffer::onClose(Conn& conn, const CloseReason& reason) {
  if (chosen_) chosen_->onClose(conn, reason);
}

}  // namespace netlab
