// Counting into a counter that other threads only read. When one thread writes it (a loop's
// own server counters, a load worker's), a relaxed load and store compile to plain moves,
// where fetch_add is a locked read-modify-write that also waits for every earlier store to
// reach the cache: a stall per counter on the request path. Readers still see whole values.
#pragma once

#include <atomic>
#include <cstdint>

namespace netlab {

inline void addOwned(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

/// addOwned when `owned` (this thread is the only writer), fetch_add otherwise.
inline void addCount(std::atomic<uint64_t>& counter, uint64_t n, bool owned) {
  if (owned) {
    addOwned(counter, n);
  } else {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
}

}  // namespace netlab
