#include "netlab/apps/logs/token_bloom.h"

#include <array>
#include <cstring>

namespace netlab::logs {
namespace {

constexpr std::array<uint32_t, 8> kSalt = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                                           0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};
using Bucket = std::array<uint32_t, 8>;

Bucket mask(uint64_t hash) {
  Bucket m;
  auto low = static_cast<uint32_t>(hash);
  for (size_t i = 0; i < 8; ++i) m[i] = 1u << ((low * kSalt[i]) >> 27);
  return m;
}

size_t bucketOf(uint64_t hash, size_t buckets) { return (hash >> 32) & (buckets - 1); }

}  // namespace

uint64_t wordHash(std::string_view word, uint8_t tag) {
  uint64_t h = kHashSeed ^ tag;
  for (char c : word) h = (h ^ static_cast<unsigned char>(c)) * kHashPrime;
  return finishHash(h);
}

std::string buildBloom(const std::vector<uint64_t>& hashes) {
  size_t buckets = 1;
  while (buckets < kMaxBuckets && buckets * 256 < hashes.size() * 16) buckets *= 2;
  std::vector<Bucket> b(buckets, Bucket{});
  for (uint64_t h : hashes) {
    Bucket m = mask(h);
    Bucket& into = b[bucketOf(h, buckets)];
    for (size_t i = 0; i < 8; ++i) into[i] |= m[i];
  }
  // Folding ORs the upper half into the lower: a word's bucket index keeps its low bits.
  while (buckets > 1) {
    size_t half = buckets / 2, set = 0;
    for (size_t i = 0; i < half; ++i)
      for (size_t w = 0; w < 8; ++w)
        set += static_cast<size_t>(__builtin_popcount(b[i][w] | b[i + half][w]));
    if (set * 10 > half * 256 * 4) break;
    for (size_t i = 0; i < half; ++i)
      for (size_t w = 0; w < 8; ++w) b[i][w] |= b[i + half][w];
    b.resize(half);
    buckets = half;
  }
  std::string out(buckets * sizeof(Bucket), '\0');
  std::memcpy(out.data(), b.data(), out.size());
  return out;
}

bool bloomMayHold(const void* bloom, size_t bytes, uint64_t hash) {
  size_t buckets = bytes / sizeof(Bucket);
  if (buckets == 0 || (buckets & (buckets - 1)) != 0) return true;  // not ours: no skipping
  Bucket b;
  std::memcpy(&b, static_cast<const char*>(bloom) + bucketOf(hash, buckets) * sizeof(Bucket),
              sizeof b);
  Bucket m = mask(hash);
  for (size_t i = 0; i < 8; ++i)
    if ((b[i] & m[i]) != m[i]) return false;
  return true;
}

}  // namespace netlab::logs
