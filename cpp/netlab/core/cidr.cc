#include "netlab/core/cidr.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace netlab {
namespace {

Error invalid(std::string what) { return Error{EINVAL, std::move(what)}; }

}  // namespace

Result<Cidr> parseCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string address(text.substr(0, slash));
  Cidr c;
  if (::inet_pton(AF_INET, address.c_str(), c.bytes.data()) == 1) {
    c.family = AF_INET;
    c.prefix = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), c.bytes.data()) == 1) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, c.bytes.begin())) {
      std::copy(c.bytes.begin() + 12, c.bytes.end(), c.bytes.begin());
      std::fill(c.bytes.begin() + 4, c.bytes.end(), 0);
      c.family = AF_INET;
      c.prefix = 32;
    } else {
      c.family = AF_INET6;
      c.prefix = 128;
    }
  } else {
    return invalid("'" + std::string(text) + "' is not an IP address or address/bits");
  }
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (ec != std::errc{} || end != bits.data() + bits.size() || prefix < 0 || prefix > c.prefix) {
      return invalid("'" + std::string(text) + "': the prefix must be 0.." +
                     std::to_string(c.prefix));
    }
    c.prefix = prefix;
  }
  return c;
}

bool Cidr::contains(const Cidr& a) const {
  if (a.family != family) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (!std::equal(bytes.begin(), bytes.begin() + full, a.bytes.begin())) return false;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[static_cast<size_t>(full)] & mask) == (a.bytes[static_cast<size_t>(full)] & mask);
}

Result<std::vector<Cidr>> parseCidrList(std::string_view text) {
  std::vector<Cidr> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find_first_of(" ,\t\n", i);
    if (end == std::string_view::npos) end = text.size();
    if (end > i) {
      auto block = parseCidr(text.substr(i, end - i));
      if (!block.ok()) return block.error();
      out.push_back(block.value());
    }
    i = end + 1;
  }
  return out;
}

bool inAny(const std::vector<Cidr>& blocks, std::string_view address) {
  auto a = parseCidr(address);
  if (!a.ok()) return false;
  return std::any_of(blocks.begin(), blocks.end(),
                     [&](const Cidr& b) { return b.contains(a.value()); });
}

}  // namespace netlab
