// Where CONNECT may open a tunnel. An open CONNECT proxy relays anything anywhere (spam,
// scans, reaching internal services), so like Squid's "http_access deny CONNECT !SSL_ports"
// and tinyproxy's ConnectPort, nothing is allowed unless configured.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netlab/apps/http_proxy/filter.h"
#include "netlab/io/result.h"

namespace netlab {

struct ConnectTarget {
  enum class Host { kAny, kName, kBlock };
  Host kind = Host::kAny;
  std::string name;   // kName, lower case
  Cidr block;         // kBlock: matches targets given as an address
  uint16_t port = 0;  // 0: any port
};

/// Entries separated by spaces or commas, each host:port: host is a name, an address, a
/// block ("10.0.0.0/8", "[::1]") or "*"; port is a number or "*".
Result<std::vector<ConnectTarget>> parseConnectAllow(std::string_view text);
bool connectAllowed(const std::vector<ConnectTarget>& allow, std::string_view host, uint16_t port);

}  // namespace netlab
