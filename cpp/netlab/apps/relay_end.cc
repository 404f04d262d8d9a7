#include "netlab/apps/relay_end.h"

#include <utility>

namespace netlab {

RelayEnd::RelayEnd(std::shared_ptr<RelayPair> pair, Side side)
    : pair_(std::move(pair)), side_(side) {}

void RelayEnd::attach(Conn* conn) {
  (side_ == Side::kClient ? pair_->client : pair_->target) = conn;
}

Conn* RelayEnd::other() const { return side_ == Side::kClient ? pair_->target : pair_->client; }

size_t RelayEnd::onData(Conn&, Buffer& input) {
  if (input.empty()) return 0;
  if (Conn* to = other()) to->send(input.view());
  input.clear();
  return 1;
}

bool RelayEnd::onEof(Conn&) {
  if (Conn* to = other()) to->shutdownWrite();
  return true;
}

void RelayEnd::onHighWater(Conn&, size_t) {
  if (Conn* from = other()) from->pauseReading();
}

void RelayEnd::onDrained(Conn&) {
  if (Conn* from = other()) from->resumeReading();
}

void RelayEnd::onClose(Conn&, const CloseReason&) {
  attach(nullptr);
  if (Conn* target = other(); target && side_ == Side::kClient) target->closeAfterFlush();
}

RelayTarget::RelayTarget(std::shared_ptr<RelayPair> pair, Hooks hooks)
    : RelayEnd(std::move(pair), Side::kTarget), hooks_(std::move(hooks)) {}

void RelayTarget::onOpen(Conn& conn) {
  opened_ = true;
  Conn* client = other();
  if (!client) {  // the client left while we were connecting
    conn.closeAfterFlush();
    return;
  }
  attach(&conn);
  if (hooks_.opened) hooks_.opened(*client);
  client->resumeReading();
}

void RelayTarget::onClose(Conn&, const CloseReason& reason) {
  attach(nullptr);
  Conn* client = other();
  if (!client) return;
  if (opened_) {
    client->closeAfterFlush();
  } else if (hooks_.failed) {
    hooks_.failed(*client, reason);
  } else {
    client->close(reason);  // refused, unreachable or timed out: the client goes the same way
  }
}

}  // namespace netlab
