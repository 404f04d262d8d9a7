#include "netlab/apps/http_proxy/allowlist.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>

namespace netlab {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isHostName(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

Result<ConnectTarget> parseEntry(std::string_view entry) {
  auto bad = [&](std::string why) {
    return Error{EINVAL, "connect_allow: '" + std::string(entry) + "' " + why};
  };
  size_t colon = entry.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("is not host:port");
  std::string_view host = entry.substr(0, colon), port = entry.substr(colon + 1);
  ConnectTarget t;
  if (port != "*") {
    int n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc{} || end != port.data() + port.size() || n < 1 || n > 65535) {
      return bad("has no port 1..65535 or *");
    }
    t.port = static_cast<uint16_t>(n);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "*") return t;
  if (auto block = parseCidr(host); block.ok()) {
    t.kind = ConnectTarget::Host::kBlock;
    t.block = block.value();
    return t;
  }
  if (!isHostName(host)) return bad("has no host name, address, block or *");
  t.kind = ConnectTarget::Host::kName;
  t.name = lower(host);
  return t;
}

}  // namespace

Result<std::vector<ConnectTarget>> parseConnectAllow(std::string_view text) {
  std::vector<ConnectTarget> allow;
  for (std::string_view entry : splitList(text, " ,\t\n")) {
    auto t = parseEntry(entry);
    if (!t.ok()) return t.error();
    allow.push_back(t.value());
  }
  return allow;
}

// A name matches only itself: what it resolves to is not checked, so a block entry admits
// only targets the client gave as addresses.
bool connectAllowed(const std::vector<ConnectTarget>& allow, std::string_view host, uint16_t port) {
  auto address = parseCidr(host);
  bool isAddress = address.ok() && host.find('/') == std::string_view::npos;
  std::string name = lower(host);
  return std::any_of(allow.begin(), allow.end(), [&](const ConnectTarget& t) {
    if (t.port != 0 && t.port != port) return false;
    switch (t.kind) {
      case ConnectTarget::Host::kAny:
        return true;
      case ConnectTarget::Host::kName:
        return t.name == name;
      case ConnectTarget::Host::kBlock:
        return isAddress && t.block.contains(address.value());
    }
    return false;
  });
}

}  // namespace netlab
