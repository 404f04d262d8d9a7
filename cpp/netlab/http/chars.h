// Character classes of HTTP's grammar (RFC 9110 §5.6.2, RFC 9112 §3.2), as tables so the
// head is checked in one pass a byte at a time.
#pragma once

#include <array>
#include <cstdint>

namespace netlab::http {

namespace detail {
constexpr std::array<bool, 256> tokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'})
    t[static_cast<unsigned char>(c)] = true;
  return t;
}
// field-vchar and the spaces inside a value: VCHAR, obs-text, SP, HTAB. Never CR, LF, NUL.
constexpr std::array<bool, 256> fieldTable() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0xff; ++c) t[c] = c != 0x7f;
  t[' '] = t['\t'] = true;
  return t;
}
inline constexpr auto kToken = tokenTable();
inline constexpr auto kField = fieldTable();
}  // namespace detail

inline bool isTokenChar(char c) { return detail::kToken[static_cast<uint8_t>(c)]; }
inline bool isFieldChar(char c) { return detail::kField[static_cast<uint8_t>(c)]; }
/// A request-target byte: visible ASCII (RFC 3986 never needs more; a space would split it).
inline bool isTargetChar(char c) { return c > 0x20 && c < 0x7f; }
inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace netlab::http
