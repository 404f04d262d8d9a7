// Per-connection event lines for `-v`. Native threads never call into Python: they append here
// and Python drains the queue from its own thread.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace netlab {

class EventLog {
 public:
  static constexpr size_t kMaxLines = 10000;

  explicit EventLog(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }

  /// Drops the line (and counts the drop) when the reader has fallen kMaxLines behind.
  void add(std::string line) {
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (lines_.size() >= kMaxLines) {
      ++dropped_;
      return;
    }
    lines_.push_back(std::move(line));
  }

  std::vector<std::string> drain() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out(lines_.begin(), lines_.end());
    lines_.clear();
    if (dropped_ > 0) {
      out.push_back("(" + std::to_string(dropped_) + " event lines dropped)");
      dropped_ = 0;
    }
    return out;
  }

 private:
  bool enabled_;
  std::mutex mutex_;
  std::deque<std::string> lines_;
  uint64_t dropped_ = 0;
};

}  // namespace netlab
