#include "netlab/load/load_result.h"

#include <cerrno>
#include <cstring>

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
