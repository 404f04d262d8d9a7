// Adding to a counter that one thread writes and others only read (a load worker's live
// counters): a relaxed load and store compile to plain moves, where fetch_add is a locked
// read-modify-write that also waits for every earlier store to reach the cache, a stall per
// counter on the request path. Readers on other threads still see whole values.
#pragma once

#include <atomic>
#include <cstdint>

namespace netlab {

inline void addOwned(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace netlab
