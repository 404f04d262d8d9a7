#include "netlab/io/fd_limit.h"

#include <sys/resource.h>

#include <string>

namespace netlab {

Status raiseFdLimit(size_t connections) {
  size_t needed = connections + kFdMargin;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) return sysError("getrlimit RLIMIT_NOFILE");
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur != RLIM_INFINITY && needed > limit.rlim_cur) {
    return Error{
        EMFILE, std::to_string(connections) + " connections need about " + std::to_string(needed) +
                    " file descriptors but RLIMIT_NOFILE allows " + std::to_string(limit.rlim_cur) +
                    "; raise the hard limit (ulimit -Hn) or use fewer connections"};
  }
  return {};
}

}  // namespace netlab
