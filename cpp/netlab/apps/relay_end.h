// The two ends of one relayed byte stream (muduo's tunnel): what one end reads goes to the
// other, each end's backpressure pauses reading on the other, and a half-close is passed on.
// Both ends run on one thread (the target is opened with Conn::connect from the client's
// connection), so they reach each other through a pair of plain pointers that each end
// clears when it closes. Used by the TCP relay, and by the HTTP proxy once a CONNECT has
// been accepted.
#pragma once

#include <functional>
#include <memory>

#include "netlab/core/handler.h"

namespace netlab {

struct RelayPair {
  Conn* client = nullptr;
  Conn* target = nullptr;
};

class RelayEnd : public Handler {
 public:
  enum class Side { kClient, kTarget };
  RelayEnd(std::shared_ptr<RelayPair> pair, Side side);

  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onHighWater(Conn& conn, size_t queued) override;
  void onDrained(Conn& conn) override;
  /// The client end lets its target finish writing, then close.
  void onClose(Conn& conn, const CloseReason& reason) override;

  /// This end is `conn` (null: gone).
  void attach(Conn* conn);
  Conn* other() const;
  const std::shared_ptr<RelayPair>& pair() const { return pair_; }

 private:
  std::shared_ptr<RelayPair> pair_;
  Side side_;
};

/// The target end. Until it opens, the client end reads nothing; then `opened` (if set) may
/// speak to the client first (a proxy's "200 Connection Established") and the client is read.
/// A target that never opens (refused, unreachable, timed out) calls `failed` if set, else
/// closes the client with the same reason.
class RelayTarget final : public RelayEnd {
 public:
  struct Hooks {
    std::function<void(Conn& client)> opened;
    std::function<void(Conn& client, const CloseReason& reason)> failed;
  };
  explicit RelayTarget(std::shared_ptr<RelayPair> pair, Hooks hooks = {});
  void onOpen(Conn& conn) override;
  void onClose(Conn& conn, const CloseReason& reason) override;

 private:
  Hooks hooks_;
  bool opened_ = false;
};

}  // namespace netlab
