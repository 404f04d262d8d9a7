#include "netlab/models/address_limiter.h"

namespace netlab {

bool AddressLimiter::acquire(const std::string& address) {
  if (perAddress_ == 0) return true;
  std::lock_guard<std::mutex> lock(mutex_);
  size_t& held = held_[address];
  if (held >= perAddress_) return false;
  ++held;
  return true;
}

void AddressLimiter::release(const std::string& address) {
  if (perAddress_ == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = held_.find(address);
  if (it == held_.end()) return;
  if (--it->second == 0) held_.erase(it);  // the map holds only addresses with connections
}

}  // namespace netlab
