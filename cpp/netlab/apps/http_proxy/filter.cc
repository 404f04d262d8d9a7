#include "netlab/apps/http_proxy/filter.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "netlab/http/chars.h"
#include "netlab/http/message.h"

namespace netlab {
namespace {

std::string_view trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t");
  if (a == std::string_view::npos) return {};
  size_t b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), netlab::http::isTokenChar);
}

Error invalid(std::string what) { return Error{EINVAL, std::move(what)}; }

}  // namespace

std::vector<std::string_view> splitList(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find_first_of(separators, at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view piece = trim(text.substr(at, end - at));
    if (!piece.empty()) out.push_back(piece);
    at = end + 1;
  }
  return out;
}

bool HeaderEdits::removes(std::string_view name) const {
  for (const std::string& r : remove) {
    if (netlab::http::equalsIgnoreCase(r, name)) return true;
  }
  return valueSet(name) != nullptr;
}

const std::string* HeaderEdits::valueSet(std::string_view name) const {
  for (const auto& [n, v] : set) {
    if (netlab::http::equalsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

Result<HeaderEdits> parseHeaderEdits(std::string_view set, std::string_view remove) {
  HeaderEdits edits;
  for (std::string_view line : splitList(set, "\n")) {
    size_t colon = line.find(':');
    std::string_view name = colon == std::string_view::npos ? line : line.substr(0, colon);
    if (colon == std::string_view::npos || !isToken(name)) {
      return invalid("set_headers: '" + std::string(line) + "' is not 'Name: value'");
    }
    std::string_view value = trim(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), netlab::http::isFieldChar)) {
      return invalid("set_headers: the value of " + std::string(name) + " has a control character");
    }
    edits.set.emplace_back(name, value);
  }
  for (std::string_view name : splitList(remove, " ,\t\n")) {
    if (!isToken(name)) return invalid("remove_headers: '" + std::string(name) + "' is no name");
    if (netlab::http::equalsIgnoreCase(name, "host")) {
      return invalid("remove_headers: Host cannot be removed (HTTP/1.1 requires it)");
    }
    edits.remove.emplace_back(name);
  }
  return edits;
}

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

Result<std::vector<DenyRule>> parseDenyRules(std::string_view text) {
  std::vector<DenyRule> rules;
  for (std::string_view ruleText : splitList(text, ";\n")) {
    DenyRule rule;
    rule.text = std::string(ruleText);
    for (std::string_view condition : splitList(ruleText, " \t")) {
      size_t eq = condition.find('=');
      std::string_view key = condition.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : condition.substr(eq + 1);
      if (value.empty()) {
        return invalid("deny: '" + std::string(condition) + "' is not method=, path= or from=");
      }
      if (key == "method") {
        for (std::string_view m : splitList(value, ",")) {
          if (!isToken(m)) return invalid("deny: '" + std::string(m) + "' is no method");
          rule.methods.emplace_back(m);
        }
      } else if (key == "path") {
        if (value.front() != '/') return invalid("deny: a path prefix starts with '/'");
        rule.pathPrefix = std::string(value);
      } else if (key == "from") {
        for (std::string_view block : splitList(value, ",")) {
          auto cidr = parseCidr(block);
          if (!cidr.ok()) return invalid("deny: from=" + cidr.error().message);
          rule.from.push_back(cidr.value());
        }
      } else {
        return invalid("deny: unknown condition '" + std::string(key) +
                       "'; valid: method=, path=, from=");
      }
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

const DenyRule* deniedBy(const std::vector<DenyRule>& rules, std::string_view method,
                         std::string_view path, std::string_view clientIp) {
  Cidr client;
  bool parsed = false, clientKnown = false;
  for (const DenyRule& rule : rules) {
    if (!rule.methods.empty() &&
        std::find(rule.methods.begin(), rule.methods.end(), method) == rule.methods.end()) {
      continue;
    }
    if (path.substr(0, rule.pathPrefix.size()) != rule.pathPrefix) continue;
    if (!rule.from.empty()) {
      if (!parsed) {
        auto c = parseCidr(clientIp);
        parsed = true;
        clientKnown = c.ok();
        if (clientKnown) client = c.value();
      }
      if (!clientKnown) continue;
      if (std::none_of(rule.from.begin(), rule.from.end(),
                       [&](const Cidr& block) { return block.contains(client); })) {
        continue;
      }
    }
    return &rule;
  }
  return nullptr;
}

bool RateLimiter::admit(std::string_view address, int64_t nowNs, double& retryAfterSec) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxAddresses) sweep(nowNs);
    it = buckets_.emplace(std::string(address), Bucket{burst_, nowNs}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + static_cast<double>(nowNs - b.lastNs) * 1e-9 * rate_);
  b.lastNs = nowNs;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retryAfterSec = (1 - b.tokens) / rate_;
  return false;
}

// Full buckets first; if every client is in debt, the table is cleared rather than grown
// (those clients get a fresh burst: a bound on memory matters more than on them).
void RateLimiter::sweep(int64_t nowNs) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double tokens =
        it->second.tokens + static_cast<double>(nowNs - it->second.lastNs) * 1e-9 * rate_;
    it = tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() >= kMaxAddresses) buckets_.clear();
}

}  // namespace netlab
