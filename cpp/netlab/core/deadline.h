// A timeout that moves on every request and rarely fires: the proxy's upstream read timeout,
// re-armed after each read, and a pooled connection's idle limit, re-armed each time it is
// parked. Moving it only stores the new deadline; the one timer behind it, when it fires
// early, re-arms itself for what is left (Stream's idle timer does the same). So the hot path
// makes no timer-queue insert and erase per request.
#pragma once

#include <cstdint>
#include <functional>

#include "netlab/core/handler.h"

namespace netlab {

class Deadline {
 public:
  explicit Deadline(std::function<void()> onExpired) : onExpired_(std::move(onExpired)) {}
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  /// Expires `seconds` from now, on `conn`'s thread, unless set again or cleared first. The
  /// timer belongs to `conn` (cancelled when it closes), so the owner must outlive it there:
  /// a handler's own connection.
  void set(Conn& conn, double seconds);
  void clear() { dueNs_ = 0; }
  bool active() const { return dueNs_ != 0; }

 private:
  void arm(Conn& conn, int64_t dueNs);
  void onTimer(Conn& conn);

  std::function<void()> onExpired_;
  int64_t dueNs_ = 0;    // when it expires; 0: cleared
  int64_t armedNs_ = 0;  // when the timer behind it fires; 0: none armed
  Conn::TimerHandle timer_ = 0;
};

}  // namespace netlab
