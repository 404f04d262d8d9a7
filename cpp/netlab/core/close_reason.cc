#include "netlab/core/close_reason.h"

#include <cerrno>
#include <cstring>

namespace netlab {

const char* closeKindName(CloseKind kind) {
  static const char* kNames[] = {
      "peer_closed",     "reset",        "idle_timeout", "message_timeout", "slow_consumer",
      "input_too_large", "input_memory", "server_full",  "protocol_error",  "io_error",
      "server_stopping", "local_close",  "refused",      "unreachable",     "connect_timeout",
      "no_fds",          "no_ports",     "denied"};
  static_assert(sizeof kNames / sizeof kNames[0] == kCloseKinds);
  auto i = static_cast<size_t>(kind);
  return i < kCloseKinds ? kNames[i] : "io_error";
}

CloseKind closeKindFromErrno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return CloseKind::kRefused;
    case ECONNRESET:
    case EPIPE:
      return CloseKind::kReset;
    case ETIMEDOUT:
      return CloseKind::kConnectTimeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
      return CloseKind::kUnreachable;
    case EMFILE:
    case ENFILE:
      return CloseKind::kNoFds;
    case EADDRNOTAVAIL:
      return CloseKind::kNoPorts;
    default:
      return CloseKind::kIoError;
  }
}

bool isServerError(CloseKind kind) {
  switch (kind) {
    case CloseKind::kIoError:
    case CloseKind::kInputTooLarge:
    case CloseKind::kInputMemory:
    case CloseKind::kNoFds:
    case CloseKind::kNoPorts:
      return true;
    default:
      return false;
  }
}

std::string CloseReason::text() const {
  return detail.empty() ? std::string(closeKindName(kind)) : detail;
}

std::string describeSocketError(const char* op, int err) {
  if (err == EMFILE || err == ENFILE) {
    return std::string(op) + ": out of file descriptors (" + std::strerror(err) +
           "); raise `ulimit -n` or use fewer connections";
  }
  if (err == EADDRNOTAVAIL) {
    return std::string(op) + ": out of ephemeral ports (" + std::strerror(err) +
           "); see net.ipv4.ip_local_port_range, or reuse connections instead of the connect "
           "scenario";
  }
  return std::string(op) + ": " + std::strerror(err);
}

CloseReason CloseReason::fromErrno(const char* op, int err) {
  return {closeKindFromErrno(err), err, describeSocketError(op, err)};
}

}  // namespace netlab
