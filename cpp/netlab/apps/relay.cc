#include "netlab/apps/relay.h"

#include <memory>
#include <tuple>

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
  explicit ClientEnd(const RelayProtocol& relay)
      : RelayEnd(std::make_shared<Pair>(), &Pair::client, &Pair::target), relay_(relay) {}

  void onOpen(Conn& conn) override {
    attach(&conn);
    conn.pauseReading();  // nothing is read until there is somewhere to put it
    conn.connect(relay_.targetHost(), relay_.targetPort(), relay_.options().connectTimeoutSec,
                 std::make_unique<TargetEnd>(pair_));
  }
  void onClose(Conn&, const CloseReason&) override {
    attach(nullptr);
    if (Conn* target = other()) target->closeAfterFlush();
  }

 private:
  const RelayProtocol& relay_;
};

}  // namespace

Result<std::pair<std::string, uint16_t>> parseTarget(std::string_view target) {
  size_t colon = target.rfind(':');
  std::string_view portText = colon == std::string_view::npos ? "" : target.substr(colon + 1);
  bool digits = !portText.empty() && portText.size() <= 5 &&
                portText.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits) {
    return Error{EINVAL, "target must be host:port (got '" + std::string(target) + "')"};
  }
  int port = std::stoi(std::string(portText));
  if (port < 1 || port > 65535) {
    return Error{EINVAL,
                 "target port must be between 1 and 65535 (got " + std::to_string(port) + ")"};
  }
  std::string host(target.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(host, static_cast<uint16_t>(port));
}

const std::vector<Field<RelayOptions>>& Fields<RelayOptions>::fields() {
  static const std::vector<Field<RelayOptions>> table = {
      text("target", &RelayOptions::target, "host:port", "where to forward each client", {},
           /*required=*/true),
      number("connect_timeout", &RelayOptions::connectTimeoutSec, 0.001, 3600, "seconds",
             "how long the target has to accept"),
  };
  return table;
}

Status validate(const RelayOptions& options) {
  if (options.target.empty()) return Error{EINVAL, "relay needs a target (host:port)"};
  auto target = parseTarget(options.target);
  if (!target.ok()) return target.error();
  return {};
}

RelayProtocol::RelayProtocol(RelayOptions options) : options_(std::move(options)) {
  auto target = parseTarget(options_.target);
  if (target.ok()) std::tie(targetHost_, targetPort_) = target.value();
}

std::unique_ptr<Handler> RelayProtocol::newHandler() { return std::make_unique<ClientEnd>(*this); }

}  // namespace netlab
