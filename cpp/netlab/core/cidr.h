// Address blocks: "10.0.0.0/8", "::1/128", or one address. The proxy's deny rules and CONNECT
// allowlist and every server's `allow` option match client addresses against them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "netlab/io/result.h"

namespace netlab {

/// An address block: "10.0.0.0/8", "::1/128", or one address.
struct Cidr {
  std::array<uint8_t, 16> bytes{};
  int family = 0;  // AF_INET or AF_INET6
  int prefix = 0;
  bool contains(const Cidr& address) const;
};
/// An address (IPv4-mapped IPv6 taken as IPv4), or a block with "/bits".
Result<Cidr> parseCidr(std::string_view text);

/// Blocks separated by spaces or commas ("127.0.0.0/8 ::1"); an Error names the bad one.
Result<std::vector<Cidr>> parseCidrList(std::string_view text);
/// Whether `address` (a numeric address) is in one of `blocks`.
bool inAny(const std::vector<Cidr>& blocks, std::string_view address);

}  // namespace netlab
