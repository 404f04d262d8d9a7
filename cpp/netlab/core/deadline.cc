#include "netlab/core/deadline.h"

#include "netlab/io/clock.h"

namespace netlab {

void Deadline::set(Conn& conn, double seconds) {
  dueNs_ = nowNs() + static_cast<int64_t>(seconds * static_cast<double>(kNsPerSec));
  if (armedNs_ != 0 && armedNs_ <= dueNs_) return;  // fires first, then moves on
  if (armedNs_ != 0) conn.cancelTimer(timer_);
  arm(conn, dueNs_);
}

void Deadline::arm(Conn& conn, int64_t dueNs) {
  armedNs_ = dueNs;
  double seconds = static_cast<double>(dueNs - nowNs()) / static_cast<double>(kNsPerSec);
  timer_ = conn.runAfter(seconds > 0 ? seconds : 0, [this, &conn] { onTimer(conn); });
}

void Deadline::onTimer(Conn& conn) {
  armedNs_ = 0;
  if (dueNs_ == 0) return;
  if (nowNs() < dueNs_) {
    arm(conn, dueNs_);
    return;
  }
  dueNs_ = 0;
  onExpired_();
}

}  // namespace netlab
