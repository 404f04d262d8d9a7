#include "netlab/apps/relay.h"

namespace netlab {
namespace {

// The two ends of one relayed connection. Both handlers run on the same thread (the target
// connection is opened from the client's), so the pointers need no lock; each end clears its
// own when it closes.
struct Pair {
  Conn* client = nullptr;
  Conn* target = nullptr;
};

// Moves what one end read to the other; when the other end's queue reaches the high-water
// mark, this end stops reading until that queue has drained (muduo's tunnel).
size_t forward(Buffer& input, Conn* to) {
  if (input.empty()) return 0;
  if (to) to->send(input.view());
  input.clear();
  return 1;
}

class TargetHandler final : public Handler {
 public:
  explicit TargetHandler(std::shared_ptr<Pair> pair) : pair_(std::move(pair)) {}

  void onOpen(Conn& conn) override {
    opened_ = true;
    if (!pair_->client) {  // the client left while we were connecting
      conn.closeAfterFlush();
      return;
    }
    pair_->target = &conn;
    pair_->client->resumeReading();
  }
  size_t onData(Conn&, Buffer& input) override { return forward(input, pair_->client); }
  bool onEof(Conn&) override {
    if (pair_->client) pair_->client->shutdownWrite();
    return true;
  }
  void onHighWater(Conn&, size_t) override {
    if (pair_->client) pair_->client->pauseReading();
  }
  void onDrained(Conn&) override {
    if (pair_->client) pair_->client->resumeReading();
  }
  void onClose(Conn&, const CloseReason& reason) override {
    pair_->target = nullptr;
    Conn* client = pair_->client;
    if (!client) return;
    if (!opened_) {
      // Refused, unreachable or timed out: the client goes with the same kind.
      client->close(reason);
    } else {
      client->closeAfterFlush();
    }
  }

 private:
  std::shared_ptr<Pair> pair_;
  bool opened_ = false;
};

class ClientHandler final : public Handler {
 public:
  explicit ClientHandler(const RelayOptions& options)
      : options_(options), pair_(std::make_shared<Pair>()) {}

  void onOpen(Conn& conn) override {
    pair_->client = &conn;
    conn.pauseReading();  // nothing is read until there is somewhere to put it
    conn.connect(options_.targetHost, options_.targetPort, options_.connectTimeoutSec,
                 std::make_unique<TargetHandler>(pair_));
  }
  size_t onData(Conn&, Buffer& input) override { return forward(input, pair_->target); }
  bool onEof(Conn&) override {
    if (pair_->target) pair_->target->shutdownWrite();
    return true;
  }
  void onHighWater(Conn&, size_t) override {
    if (pair_->target) pair_->target->pauseReading();
  }
  void onDrained(Conn&) override {
    if (pair_->target) pair_->target->resumeReading();
  }
  void onClose(Conn&, const CloseReason&) override {
    pair_->client = nullptr;
    if (pair_->target) pair_->target->closeAfterFlush();
  }

 private:
  const RelayOptions& options_;
  std::shared_ptr<Pair> pair_;
};

}  // namespace

std::unique_ptr<Handler> RelayProtocol::newHandler() {
  return std::make_unique<ClientHandler>(options_);
}

}  // namespace netlab
