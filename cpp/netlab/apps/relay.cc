#include "netlab/apps/relay.h"

#include <memory>
#include <tuple>

#include "netlab/apps/relay_end.h"

namespace netlab {
namespace {

// The client end begins the pair: it reads nothing until its target has connected.
class ClientEnd final : public RelayEnd {
 public:
  explicit ClientEnd(const RelayProtocol& relay)
      : RelayEnd(std::make_shared<RelayPair>(), Side::kClient), relay_(relay) {}

  void onOpen(Conn& conn) override {
    attach(&conn);
    conn.pauseReading();
    conn.connect(relay_.targetHost(), relay_.targetPort(), relay_.options().connectTimeoutSec,
                 std::make_unique<RelayTarget>(pair()));
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
