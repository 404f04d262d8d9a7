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

}  // namespace netlab
