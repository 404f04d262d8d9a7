#include "netlab/models/loop_outlet.h"

#include "netlab/models/loop_conn.h"

namespace netlab {

bool LoopOutlet::deliver(std::string_view data) {
  // First, so a closed outlet never touches its loop, which may already be gone.
  if (closed_.load(std::memory_order_acquire)) return false;
  if (loop_.inLoopThread()) {
    std::shared_ptr<LoopConn> conn = conn_.lock();
    return conn && conn->sendQueued(data, 1);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_.load(std::memory_order_relaxed) || overflow_) return false;
  if (limit_ > 0 && inbox_.size() + data.size() > limit_) {
    overflow_ = true;  // the loop thread drops the connection when it drains
  } else {
    inbox_.append(data);
    ++inboxMessages_;
  }
  if (!posted_) {
    posted_ = true;
    loop_.post([self = shared_from_this()] { self->drain(); });
  }
  return !overflow_;
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
  conn->sendQueued(batch, messages);
}

}  // namespace netlab
