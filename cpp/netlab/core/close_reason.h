// Why a connection ended, as a kind a program can branch on plus the text a person reads.
// One errno-to-kind map serves servers, outbound connects and the load generator.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace netlab {

enum class CloseKind : int {
  kPeerClosed,      // the peer finished (EOF) and everything owed to it was written
  kReset,           // ECONNRESET / EPIPE: the peer went away abruptly
  kIdleTimeout,     // nothing read or written for idle_timeout
  kMessageTimeout,  // a message still incomplete message_timeout after its first byte
  kSlowConsumer,    // queued output passed the protocol's bound
  kInputTooLarge,   // one connection's unconsumed input passed its bound
  kInputMemory,     // partial input of all connections passed max_input_memory
  kServerFull,      // refused at admission: connection, per-address or fd limits
  kProtocolError,   // the handler failed the connection (bad input)
  kIoError,         // any other socket or file error
  kServerStopping,  // stop() closed it
  kLocalClose,      // the handler (or its peer connection) closed it on purpose
  kRefused,         // an outbound connect was refused (ECONNREFUSED)
  kUnreachable,     // an outbound connect found no route (EHOSTUNREACH, ENETUNREACH)
  kConnectTimeout,  // an outbound connect did not finish in time (or ETIMEDOUT)
  kNoFds,           // EMFILE / ENFILE
  kNoPorts,         // EADDRNOTAVAIL: out of ephemeral ports
  kDenied,          // refused by the port's policy: an address not allowed, a rate passed
  kCount
};
constexpr size_t kCloseKinds = static_cast<size_t>(CloseKind::kCount);

/// "peer_closed", "slow_consumer", ...: the names Python's netlab.CloseKind uses.
const char* closeKindName(CloseKind kind);

/// The kind a failed socket call's errno belongs to (kIoError when none fits).
CloseKind closeKindFromErrno(int err);

/// Whether a close of this kind is the server's failure rather than the peer's doing or a
/// deliberate policy: what the `errors` counter counts.
bool isServerError(CloseKind kind);

/// "op: strerror", with the remedy when the cause is running out of fds or ports.
std::string describeSocketError(const char* op, int err);

struct CloseReason {
  CloseKind kind = CloseKind::kLocalClose;
  int err = 0;         // the errno behind it, or 0
  std::string detail;  // for people: "too slow: over 1048576 bytes queued (1050000)"

  /// The detail, or the kind's name when there is none.
  std::string text() const;

  static CloseReason fromErrno(const char* op, int err);
};

}  // namespace netlab
