// SHA-256 (FIPS 180-4), incremental: a body is hashed as its pieces stream past, so a server
// can report a checksum of an upload it never holds in memory.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace netlab {

class Sha256 {
 public:
  Sha256() { reset(); }
  void reset();
  void update(std::string_view data);
  /// The digest as 64 lowercase hex digits; the object is reset afterwards.
  std::string hexDigest();

  /// Tests compare the two implementations: this one never uses the CPU's SHA extensions.
  void setPortableOnly(bool on) { portableOnly_ = on; }

 private:
  void blocks(const uint8_t* p, size_t count);
  void block(const uint8_t* p);

  std::array<uint32_t, 8> state_{};
  std::array<uint8_t, 64> pending_{};
  size_t pendingSize_ = 0;
  uint64_t totalBytes_ = 0;
  bool portableOnly_ = false;
};

}  // namespace netlab
