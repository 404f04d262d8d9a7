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

LoadError loadErrorFromErrno(int err) { return loadErrorFromCloseKind(closeKindFromErrno(err)); }

// The load generator's kinds are the close kinds a client can meet, folded.
LoadError loadErrorFromCloseKind(CloseKind kind) {
  switch (kind) {
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

}  // namespace netlab
