// The process's descriptor limit: every connection is a descriptor, so a server or a load
// run with thousands of them needs RLIMIT_NOFILE's soft limit raised to its hard limit first
// (nginx's worker_rlimit_nofile, Redis's maxclients adjustment).
#pragma once

#include <cstddef>

#include "netlab/io/result.h"

namespace netlab {

/// The margin covers epoll, eventfds, the listener and the rest of the process.
constexpr size_t kFdMargin = 64;

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; an Error when `connections` (one fd
/// each) and the margin still do not fit.
Status raiseFdLimit(size_t connections);

}  // namespace netlab
