#include "netlab/models/loop_outlet.h"

#include <utility>

#include "netlab/io/clock.h"
#include "netlab/models/loop_conn.h"

namespace netlab {

thread_local bool tlsReceiverBehind = false;

bool takeReceiverBehind() { return std::exchange(tlsReceiverBehind, false); }

bool LoopOutlet::deliver(std::string_view data) {
  if (closed_.load(std::memory_order_acquire)) return false;
  // An address comparison, never a read of the loop: on another thread the loop may be gone.
  // Sends from the loop's own thread go straight to the connection (it may have closed
  // meanwhile; then the weak pointer is empty).
  if (EventLoop::isCurrent(&loop_)) {
    std::shared_ptr<LoopConn> conn = conn_.lock();
    return conn && conn->sendQueued(data, 1);
  }
  // Other threads touch the loop only under the mutex with the outlet still open: close()
  // takes the same mutex before the connection's thread can finish and its loop be destroyed.
  std::unique_lock<std::mutex> lock(mutex_);
  if (closed_.load(std::memory_order_relaxed) || overflow_) return false;
  // The inbox waits for the loop's thread, which may merely be busy or descheduled: like
  // Redis's soft and hard output limits, it may pass kBehindFactor times the bound while that
  // thread still drains it, but not for kStallNs, and never kHardFactor times it. The stream
  // then judges what the kernel would not take.
  size_t after = inbox_.size() + data.size();
  bool over = limit_ > 0 && after > kBehindFactor * limit_;
  if (over && (after > kHardFactor * limit_ || nowNs() - postedAtNs_ >= kStallNs)) {
    overflow_ = true;  // the loop thread drops the connection when it drains
  } else {
    inbox_.append(data);
    ++inboxMessages_;
  }
  if (!posted_) {
    posted_ = true;
    postedAtNs_ = nowNs();
    loop_.post([self = shared_from_this()] { self->drain(); });
  }
  if (overflow_) return false;
  // Past the bound the receiving thread is behind (with a thread per connection, twenty
  // senders can fill inboxes faster than the scheduler lets their readers empty them): the
  // sending connection ends its turn and pauses a moment (LoopConn::budgetLeft), instead of
  // waiting here. A stalled reader's thread still drains its inbox, so it never paces anyone.
  if (limit_ > 0 && inbox_.size() > limit_) tlsReceiverBehind = true;
  return true;
}

bool LoopOutlet::post(std::function<void(Conn&)> task) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_.load(std::memory_order_relaxed)) return false;
  return loop_.post([conn = conn_, task = std::move(task)] {
    std::shared_ptr<LoopConn> self = conn.lock();
    if (self && self->isOpen()) task(*self);
  });
}

void LoopOutlet::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_.store(true, std::memory_order_release);
  inbox_.clear();
}

void LoopOutlet::drain() {
  std::string batch;
  size_t messages;
  bool overflow;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(inbox_);
    messages = inboxMessages_;
    inboxMessages_ = 0;
    overflow = overflow_;
    posted_ = false;
    if (closed_.load(std::memory_order_relaxed)) return;
  }
  std::shared_ptr<LoopConn> conn = conn_.lock();
  if (!conn) return;
  if (overflow) {
    conn->dropSlow(batch.size());
    return;
  }
  conn->sendQueued(batch, messages, /*relayed=*/true);
}

}  // namespace netlab
