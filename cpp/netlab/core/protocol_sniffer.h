// Protocol detection on a shared port: a handler that looks at a connection's first bytes,
// picks the protocol they belong to, and from then on passes every call to that protocol's
// handler. The file server tells HTTP from its line protocol this way; the log and IRC
// servers' shared ports use it too. A client that sends nothing within the timeout (a
// protocol where the server speaks first) gets the default.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "netlab/core/handler.h"

namespace netlab {

class ProtocolSniffer final : public Handler {
 public:
  /// Given the first bytes, the handler for them; or null while they could still start more
  /// than one protocol. With `final` (the timeout passed, the peer half-closed, or maxPeek
  /// bytes came) it must decide.
  using Choose = std::function<std::unique_ptr<Handler>(std::string_view first, bool final)>;

  ProtocolSniffer(Choose choose, double timeoutSec, size_t maxPeek);

  void onOpen(Conn& conn) override;
  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onDrained(Conn& conn) override;
  void onHighWater(Conn& conn, size_t queued) override;
  void onClose(Conn& conn, const CloseReason& reason) override;

  /// The chosen protocol's handler, or null before the choice.
  Handler* chosen() const { return chosen_.get(); }

 private:
  bool decide(Conn& conn, std::string_view first, bool final);

  Choose choose_;
  double timeoutSec_;
  size_t maxPeek_;
  std::unique_ptr<Handler> chosen_;
  Buffer* input_ = nullptr;  // the connection's input, which outlives this handler's calls
  Conn::TimerHandle timer_ = 0;
  bool timerArmed_ = false;
};

}  // namespace netlab
