// A per-address connection cap shared by every thread of a server: the classic guide's
// MAX_CONNECTIONS_PER_IP, nginx's limit_conn, ngIRCd's MaxConnectionsIP. One address holding
// many slow or idle connections then cannot lock everyone else out of a server whose slots
// are few (select's FD_SETSIZE, the threaded model's threads).
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace netlab {

class AddressLimiter {
 public:
  /// 0: no limit, and acquire() always succeeds without taking the lock.
  explicit AddressLimiter(size_t perAddress) : perAddress_(perAddress) {}

  /// Takes a slot for `address`; false when it already holds perAddress connections.
  bool acquire(const std::string& address);
  /// Gives back a slot taken by acquire().
  void release(const std::string& address);
  bool enabled() const { return perAddress_ > 0; }
  size_t perAddress() const { return perAddress_; }

 private:
  size_t perAddress_;
  std::mutex mutex_;
  std::unordered_map<std::string, size_t> held_;
};

}  // namespace netlab
