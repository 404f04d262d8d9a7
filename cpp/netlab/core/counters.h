// Exact server counters. Each loop thread owns one Counters (no sharing on the hot path); the
// threaded model shares one across its threads (`shared`), hence atomics everywhere. Live
// connections are counted once per server, since the connection limit needs the total anyway.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "netlab/core/close_reason.h"
#include "netlab/io/owned_counter.h"

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
  uint64_t timeouts = 0;  // idle and message timeouts
  uint64_t waits = 0, readyEvents = 0, reads = 0, writes = 0, accepts = 0;  // kernel work
  std::array<uint64_t, kCloseKinds> closes{};  // connections closed, by reason
};

/// One counter as users see it (stats()["bytes_in"]): Python's stats dict and its generated
/// type are made from this table.
struct CounterField {
  const char* name;
  uint64_t StatsSnapshot::*value;
  const char* help;
};

inline const std::array<CounterField, 15>& counterFields() {
  using S = StatsSnapshot;
  static const std::array<CounterField, 15> fields = {{
      {"connections_active", &S::connectionsActive, "connections open now"},
      {"connections_total", &S::connectionsTotal, "connections accepted since creation"},
      {"connections_rejected", &S::connectionsRejected,
       "connections refused at admission (server full, per-address limit, no fds)"},
      {"bytes_in", &S::bytesIn, "bytes read from clients"},
      {"bytes_out", &S::bytesOut, "bytes written to clients"},
      {"messages_in", &S::messagesIn, "messages (lines, frames, chunks) handled"},
      {"messages_out", &S::messagesOut, "messages sent"},
      {"errors", &S::errors, "connections ended by an error"},
      {"dropped_slow", &S::droppedSlow, "connections closed for not reading their output"},
      {"timeouts", &S::timeouts, "idle and message timeouts"},
      {"waits", &S::waits,
       "readiness waits (epoll_wait, select, poll calls) of the serving loops and acceptors"},
      {"ready_events", &S::readyEvents, "descriptors those waits reported ready"},
      {"reads", &S::reads, "read calls on client connections"},
      {"writes", &S::writes, "write calls (write, writev, sendfile) on client connections"},
      {"accepts", &S::accepts,
       "accept calls on the listening socket, counting those that found nothing pending"},
  }};
  return fields;
}

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
  std::atomic<uint64_t> waits{0};
  std::atomic<uint64_t> readyEvents{0};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> accepts{0};
  std::array<std::atomic<uint64_t>, kCloseKinds> closes{};

  // Whether several threads count into this one (the threaded model's connection threads);
  // false: one loop thread writes it, and its per-request counters are added without a
  // locked instruction (add). Set before any thread counts.
  bool shared = false;

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  /// For the counters a request touches (messages; a Stream's bytes and calls go by
  /// StreamOptions::countersOwned).
  void add(std::atomic<uint64_t>& c, uint64_t n = 1) { addCount(c, n, !shared); }
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
    s.waits += get(waits);
    s.readyEvents += get(readyEvents);
    s.reads += get(reads);
    s.writes += get(writes);
    s.accepts += get(accepts);
    for (size_t i = 0; i < kCloseKinds; ++i) s.closes[i] += get(closes[i]);
  }
};

}  // namespace netlab
