#include "netlab/load/load_result.h"

#include <cerrno>

namespace netlab {

const char* loadErrorName(LoadError kind) {
  static const char* kNames[] = {"refused",  "reset",    "timeout", "closed", "mismatch",
                                 "protocol", "no_fds",   "no_ports", "other"};
  return kNames[static_cast<int>(kind)];
}

LoadError loadErrorFromErrno(int err) {
  switch (err) {
    case ECONNREFUSED: return LoadError::kRefused;
    case ECONNRESET:
    case EPIPE: return LoadError::kReset;
    case ETIMEDOUT: return LoadError::kTimeout;
    case EMFILE:
    case ENFILE: return LoadError::kNoFds;
    case EADDRNOTAVAIL: return LoadError::kNoPorts;
    default: return LoadError::kOther;
  }
}

}  // namespace netlab
