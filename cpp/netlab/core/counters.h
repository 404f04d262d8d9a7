// Exact server counters. Each loop thread owns one Counters (no sharing on the hot path); the
// threaded model shares one across its threads, hence atomics everywhere. Live connections
// are counted once per server, since the connection limit needs the total anyway.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "netlab/core/close_reason.h"

namespace netlab {

struct StatsSnapshot {
  uint64_t connectionsActive = 0;
  uint64_t connectionsTotal = 0;
  uint64_t connectionsRejected = 0;
  uint64_t bytesIn = 0;
  uint64_t bytesOut = 0;
  uint64_t messagesIn = 0;
  uint64_t messagesOut = 0;
  uint64_t errors = 0;
  uint64_t droppedSlow = 0;
  uint64_t timeouts = 0;                       // idle and message timeouts
  std::array<uint64_t, kCloseKinds> closes{};  // connections closed, by reason
};

struct alignas(64) Counters {
  std::atomic<uint64_t> connectionsTotal{0};
  std::atomic<uint64_t> connectionsRejected{0};
  std::atomic<uint64_t> bytesIn{0};
  std::atomic<uint64_t> bytesOut{0};
  std::atomic<uint64_t> messagesIn{0};
  std::atomic<uint64_t> messagesOut{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> droppedSlow{0};
  std::atomic<uint64_t> timeouts{0};
  std::array<std::atomic<uint64_t>, kCloseKinds> closes{};

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  void addTo(StatsSnapshot& s) const {
    auto get = [](const auto& c) {
      return static_cast<uint64_t>(c.load(std::memory_order_relaxed));
    };
    s.connectionsTotal += get(connectionsTotal);
    s.connectionsRejected += get(connectionsRejected);
    s.bytesIn += get(bytesIn);
    s.bytesOut += get(bytesOut);
    s.messagesIn += get(messagesIn);
    s.messagesOut += get(messagesOut);
    s.errors += get(errors);
    s.droppedSlow += get(droppedSlow);
    s.timeouts += get(timeouts);
    for (size_t i = 0; i < kCloseKinds; ++i) s.closes[i] += get(closes[i]);
  }
};

}  // namespace netlab
