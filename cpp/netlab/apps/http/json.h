// The little JSON the httpbin-like routes answer with: strings escaped as RFC 8259 asks, and
// the query string decoded into args. Header and query bytes need not be UTF-8: valid UTF-8
// passes through, any other byte is written as the latin-1 character it would be.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netlab::apps::http {

/// Appends `s` as a quoted JSON string.
void appendJsonString(std::string& out, std::string_view s);

/// "a=1&b=x+y&a=2" as decoded (name, value) pairs in order ('+' is a space, %XX a byte).
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query);

/// Appends {"name": "value", ...}; a name that repeats gets a list of its values, in order
/// (httpbin's args), or its values joined by ", " when `join` (header fields, RFC 9110 §5.3).
void appendJsonObject(std::string& out,
                      const std::vector<std::pair<std::string_view, std::string_view>>& items,
                      bool join);

}  // namespace netlab::apps::http
