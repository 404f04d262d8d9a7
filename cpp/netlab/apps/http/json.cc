#include "netlab/apps/http/json.h"

#include <cstdint>
#include <unordered_map>

#include "netlab/http/chars.h"
#include "netlab/http/message.h"

namespace netlab::apps::http {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 (overlongs, surrogates and values past
// U+10FFFF are invalid, RFC 3629 §4).
size_t utf8Length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = byte(i);
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (n == 0 || c > 0xf4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  uint8_t next = byte(i + 1);
  if ((c == 0xe0 && next < 0xa0) || (c == 0xed && next > 0x9f) || (c == 0xf0 && next < 0x90) ||
      (c == 0xf4 && next > 0x8f)) {
    return 0;
  }
  return n;
}

void appendEscape(std::string& out, unsigned value) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\u00";
  out.push_back(kHex[(value >> 4) & 15]);
  out.push_back(kHex[value & 15]);
}

void appendLatin1(std::string& out, uint8_t c) {  // U+0080..U+00FF as two UTF-8 bytes
  out.push_back(static_cast<char>(0xc0 | (c >> 6)));
  out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = i + 2 < s.size() && s[i] == '%' ? netlab::http::hexValue(s[i + 1]) : -1;
    int lo = hi >= 0 ? netlab::http::hexValue(s[i + 2]) : -1;
    if (lo >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

}  // namespace

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      appendEscape(out, c);
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (size_t n = utf8Length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      appendLatin1(out, c);
    }
    ++i;
  }
  out.push_back('"');
}

std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    out.emplace_back(percentDecode(name), percentDecode(value));
  }
  return out;
}

// Names are grouped in one pass through a hash map, in order of first appearance: a query
// of thousands of distinct names costs linear time, not quadratic.
void appendJsonObject(std::string& out,
                      const std::vector<std::pair<std::string_view, std::string_view>>& items,
                      bool join) {
  std::unordered_map<std::string, size_t> groupOf;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string key(items[i].first);
    if (join) {
      for (char& c : key) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    auto [it, added] = groupOf.emplace(std::move(key), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  out.push_back('{');
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::vector<size_t>& members = groups[g];
    out += g == 0 ? "" : ", ";
    appendJsonString(out, items[members.front()].first);
    out += ": ";
    if (members.size() == 1) {
      appendJsonString(out, items[members.front()].second);
    } else if (join) {
      std::string joined;
      for (size_t k : members) (joined += k == members.front() ? "" : ", ") += items[k].second;
      appendJsonString(out, joined);
    } else {
      out.push_back('[');
      for (size_t k : members) {
        out += k == members.front() ? "" : ", ";
        appendJsonString(out, items[k].second);
      }
      out.push_back(']');
    }
  }
  out.push_back('}');
}

}  // namespace netlab::apps::http
