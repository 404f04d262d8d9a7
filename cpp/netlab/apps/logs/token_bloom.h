// The block index's filter: which words a block of logs may hold. A split-block Bloom
// filter (Parquet's SBBF): a word sets 8 bits in one 32-byte bucket, so a lookup reads one
// cache line. Sized at 16 bits per word seen (at most 32 KiB), then folded in half while
// the bits set stay under 40%, so a block of repeated words costs little; at 40% a word
// absent from a block passes its filter about once in 1,500 blocks.
// ClickHouse's tokenbf_v1 skip index is the same idea.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace netlab::logs {

constexpr std::array<uint8_t, 256> wordBytes() {
  std::array<uint8_t, 256> map{};
  for (int c = 0; c < 256; ++c) {
    bool kept = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c >= 0x80;
    map[c] = static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c + 32 : kept ? c : 0);
  }
  return map;
}
/// 0 for a byte between words; else the byte as a word holds it: ASCII letters lowercased,
/// digits and bytes above 0x7f as they are.
inline constexpr std::array<uint8_t, 256> kWordByte = wordBytes();

constexpr uint64_t kHashSeed = 0xcbf29ce484222325ull;  // FNV-1a's, then a 64-bit finaliser
constexpr uint64_t kHashPrime = 0x100000001b3ull;
inline uint64_t finishHash(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

/// Calls `fn` with each word of `text` (a run of letters, digits and bytes above 0x7f),
/// lowercased into `scratch`: the words a keyword matches.
template <typename Fn>
void forEachWord(std::string_view text, std::string& scratch, Fn&& fn) {
  scratch.clear();
  for (char ch : text) {
    if (uint8_t b = kWordByte[static_cast<unsigned char>(ch)]) {
      scratch.push_back(static_cast<char>(b));
    } else if (!scratch.empty()) {
      fn(std::string_view(scratch));
      scratch.clear();
    }
  }
  if (!scratch.empty()) fn(std::string_view(scratch));
}

/// forEachWord's words as wordHash() gives them, in one pass and without copying: the
/// indexer's tokenizer.
template <typename Fn>
void forEachWordHash(std::string_view text, Fn&& fn) {
  uint64_t h = kHashSeed;
  bool inWord = false;
  for (char ch : text) {
    if (uint8_t b = kWordByte[static_cast<unsigned char>(ch)]) {
      h = (h ^ b) * kHashPrime;
      inWord = true;
    } else if (inWord) {
      fn(finishHash(h));
      h = kHashSeed;
      inWord = false;
    }
  }
  if (inWord) fn(finishHash(h));
}

/// A word's hash; `tag` keeps fields apart (0 a message's words, 1 a host, 2 an app).
uint64_t wordHash(std::string_view word, uint8_t tag = 0);

/// The filter of `hashes` (repeats allowed), as stored: buckets of 32 bytes, a power of two
/// of them, at most kMaxBuckets.
std::string buildBloom(const std::vector<uint64_t>& hashes);
/// Whether `bloom` may hold `hash` (false: it certainly does not).
bool bloomMayHold(const void* bloom, size_t bytes, uint64_t hash);

constexpr size_t kMaxBuckets = 1024;  // 32 KiB: inline in one page of the index's database

}  // namespace netlab::logs
