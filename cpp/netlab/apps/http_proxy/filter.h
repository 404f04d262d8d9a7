// What the proxy's configuration changes or refuses before a request reaches an upstream:
// request fields set or removed (nginx's proxy_set_header, HAProxy's http-request
// set-header/del-header), deny rules answered 403 (by method, path prefix and client
// address), and a per-client-address request rate answered 429 (nginx's limit_req).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netlab/core/cidr.h"
#include "netlab/core/rate_limiter.h"
#include "netlab/io/result.h"

namespace netlab {

/// The trimmed, non-empty pieces of `text` between any of `separators`.
std::vector<std::string_view> splitList(std::string_view text, std::string_view separators);

struct HeaderEdits {
  std::vector<std::pair<std::string, std::string>> set;  // replace what the client sent
  std::vector<std::string> remove;
  bool empty() const { return set.empty() && remove.empty(); }
  bool removes(std::string_view name) const;
  const std::string* valueSet(std::string_view name) const;
};

/// `set`: "Name: value" entries, one per line; `remove`: names separated by spaces or commas.
Result<HeaderEdits> parseHeaderEdits(std::string_view set, std::string_view remove);

/// Denies a request that meets every condition it names.
struct DenyRule {
  std::vector<std::string> methods;  // any of these (empty: any method)
  std::string pathPrefix;            // empty: any path
  std::vector<Cidr> from;            // any of these (empty: any client)
  std::string text;                  // as configured, for the 403's body
};
/// Rules separated by ';' or newlines; each "method=GET,POST path=/admin from=10.0.0.0/8"
/// with at least one condition.
Result<std::vector<DenyRule>> parseDenyRules(std::string_view text);
/// The first rule this request meets, or null.
const DenyRule* deniedBy(const std::vector<DenyRule>& rules, std::string_view method,
                         std::string_view path, std::string_view clientIp);

}  // namespace netlab
