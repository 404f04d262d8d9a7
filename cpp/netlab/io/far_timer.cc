#include "netlab/io/far_timer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "netlab/io/clock.h"

namespace netlab {

Result<std::unique_ptr<FarTimer>> FarTimer::create() {
  Fd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));  // nowNs()'s clock
  if (!fd.valid()) return sysError("timerfd_create");
  return std::make_unique<FarTimer>(std::move(fd));
}

int64_t FarTimer::cover(int64_t nowNs, int64_t timeoutNs) {
  if (timeoutNs < kFarNs) return timeoutNs;  // near, zero, or no deadline at all (-1)
  int64_t deadline = nowNs + timeoutNs;
  // Armed earlier than needed (a timer was cancelled) is left alone: it costs one early
  // wake-up, after which the deadline is covered afresh.
  if (armedNs_ != 0 && armedNs_ > nowNs && armedNs_ <= deadline) return -1;
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(deadline / kNsPerSec);
  spec.it_value.tv_nsec = static_cast<long>(deadline % kNsPerSec);
  if (::timerfd_settime(fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    armedNs_ = 0;
    return timeoutNs;  // the wait's own timeout still keeps the deadline
  }
  armedNs_ = deadline;
  return -1;
}

void FarTimer::onReady(uint32_t) {
  uint64_t expirations;
  while (::read(fd_.get(), &expirations, sizeof expirations) < 0 && errno == EINTR) {
  }
  armedNs_ = 0;
}

}  // namespace netlab
