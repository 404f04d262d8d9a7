#include "netlab/apps/relay.h"

#include <memory>

namespace netlab {
namespace {

// The two ends of one relayed connection. Both handlers run on the same thread (the target
// connection is opened from the client's), so the pointers need no lock; each end clears its
// own when it closes.
struct Pair {
  Conn* client = nullptr;
  Conn* target = nullptr;
};

// One end of the pair. What it reads goes to the other end; when the other end's queue reaches
// the high-water mark, this end stops reading until that queue has drained (muduo's tunnel);
// its half-close is passed on. The client end and the target end differ only in how they
// begin and how they end.
class RelayEnd : public Handler {
 public:
  RelayEnd(std::shared_ptr<Pair> pair, Conn* Pair::*self, Conn* Pair::*other)
      : pair_(std::move(pair)), self_(self), other_(other) {}

  size_t onData(Conn&, Buffer& input) override {
    if (input.empty()) return 0;
    if (Conn* to = other()) to->send(input.view());
    input.clear();
    return 1;
  }
  bool onEof(Conn&) override {
    if (Conn* to = other()) to->shutdownWrite();
    return true;
  }
  void onHighWater(Conn&, size_t) override {
    if (Conn* from = other()) from->pauseReading();
  }
  void onDrained(Conn&) override {
    if (Conn* from = other()) from->resumeReading();
  }

 protected:
  Conn* other() const { return (*pair_).*other_; }
  void attach(Conn* conn) { (*pair_).*self_ = conn; }

  std::shared_ptr<Pair> pair_;

 private:
  Conn* Pair::*self_;
  Conn* Pair::*other_;
};

class TargetEnd final : public RelayEnd {
 public:
  explicit TargetEnd(std::shared_ptr<Pair> pair)
      : RelayEnd(std::move(pair), &Pair::target, &Pair::client) {}

  void onOpen(Conn& conn) override {
    opened_ = true;
    if (!other()) {  // the client left while we were connecting
      conn.closeAfterFlush();
      return;
    }
    attach(&conn);
    other()->resumeReading();
  }
  void onClose(Conn&, const CloseReason& reason) override {
    attach(nullptr);
    Conn* client = other();
    if (!client) return;
    if (!opened_) {
      // Refused, unreachable or timed out: the client goes with the same kind.
      client->close(reason);
    } else {
      client->closeAfterFlush();
    }
  }

 private:
  bool opened_ = false;
};

class ClientEnd final : public RelayEnd {
 public:
  explicit ClientEnd(const RelayOptions& options)
      : RelayEnd(std::make_shared<Pair>(), &Pair::client, &Pair::target), options_(options) {}

  void onOpen(Conn& conn) override {
    attach(&conn);
    conn.pauseReading();  // nothing is read until there is somewhere to put it
    conn.connect(options_.targetHost, options_.targetPort, options_.connectTimeoutSec,
                 std::make_unique<TargetEnd>(pair_));
  }
  void onClose(Conn&, const CloseReason&) override {
    attach(nullptr);
    if (Conn* target = other()) target->closeAfterFlush();
  }

 private:
  const RelayOptions& options_;
};

}  // namespace

std::unique_ptr<Handler> RelayProtocol::newHandler() {
  return std::make_unique<ClientEnd>(options_);
}

}  // namespace netlab
