#include "netlab/load/load_result.h"

#include <cerrno>
#include <cstring>

#include "netlab/core/close_reason.h"

namespace netlab {

const char* loadErrorName(LoadError kind) {
  static const char* kNames[] = {"refused",  "reset",  "timeout",  "closed", "mismatch",
                                 "protocol", "no_fds", "no_ports", "other"};
  return kNames[static_cast<int>(kind)];
}

// The load generator's kinds are the close kinds a client can meet, folded.
LoadError loadErrorFromErrno(int err) {
  switch (closeKindFromErrno(err)) {
    case CloseKind::kRefused:
      return LoadError::kRefused;
    case CloseKind::kReset:
      return LoadError::kReset;
    case CloseKind::kConnectTimeout:
      return LoadError::kTimeout;
    case CloseKind::kNoFds:
      return LoadError::kNoFds;
    case CloseKind::kNoPorts:
      return LoadError::kNoPorts;
    default:
      return LoadError::kOther;
  }
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

}  // namespace netlab
