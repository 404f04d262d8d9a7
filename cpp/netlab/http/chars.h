// Character classes of HTTP's grammar (RFC 9110 §5.6.2, RFC 9112 §3.2), as tables so the
// head is checked in one pass a byte at a time.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

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

namespace detail {
constexpr uint64_t kOnes = 0x0101010101010101, kHighs = 0x8080808080808080;
// Whether any byte of `w` is below n (n <= 128), above n (n <= 127) or equal to c. Exact
// answers (the "hasless" and "hasmore" of Bit Twiddling Hacks): a borrow or carry only ever
// starts at a byte that itself matches.
constexpr bool anyBelow(uint64_t w, uint64_t n) { return ((w - kOnes * n) & ~w & kHighs) != 0; }
constexpr bool anyAbove(uint64_t w, uint64_t n) {
  return (((w + kOnes * (127 - n)) | w) & kHighs) != 0;
}
constexpr bool anyEqual(uint64_t w, uint64_t c) { return anyBelow(w ^ (kOnes * c), 1); }
inline uint64_t word(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Every byte of `s` passes `ok`; a word that `suspect` clears is passed whole. Header values
// and targets are mostly plain visible ASCII, so most of them go 8 bytes a step.
template <typename Suspect, typename Ok>
bool allOf(std::string_view s, Suspect suspect, Ok ok) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    if (!suspect(word(s.data() + i))) continue;
    for (size_t j = i; j < i + 8; ++j) {
      if (!ok(s[j])) return false;
    }
  }
  for (; i < s.size(); ++i) {
    if (!ok(s[i])) return false;
  }
  return true;
}
}  // namespace detail

/// Every byte a field value's (isFieldChar): no control byte but HTAB, no DEL.
inline bool allFieldChars(std::string_view s) {
  return detail::allOf(
      s, [](uint64_t w) { return detail::anyBelow(w, 0x20) || detail::anyEqual(w, 0x7f); },
      isFieldChar);
}
/// Every byte a request target's (isTargetChar): visible ASCII.
inline bool allTargetChars(std::string_view s) {
  return detail::allOf(
      s, [](uint64_t w) { return detail::anyBelow(w, 0x21) || detail::anyAbove(w, 0x7e); },
      isTargetChar);
}

}  // namespace netlab::http
