// What a load run measured. Latencies are nanoseconds.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "netlab/core/close_reason.h"

namespace netlab {

enum class LoadError : int {
  kRefused,
  kReset,
  kTimeout,
  kClosed,    // the server closed the connection with requests outstanding
  kMismatch,  // a response arrived but was not the expected one
  kProtocol,  // a response could not be parsed, or was too large
  kNoFds,     // the client ran out of file descriptors
  kNoPorts,   // the client ran out of ephemeral ports
  kOther,
  kCount
};
constexpr size_t kLoadErrorKinds = static_cast<size_t>(LoadError::kCount);
const char* loadErrorName(LoadError kind);
/// The kind a failed socket call's errno belongs to.
LoadError loadErrorFromErrno(int err);
/// The kind a closed stream's reason belongs to.
LoadError loadErrorFromCloseKind(CloseKind kind);

struct LatencySummary {
  uint64_t count = 0, min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  double mean = 0;
};

/// One second of the run.
struct TimelinePoint {
  int second = 0;
  uint64_t requests = 0, responses = 0, errors = 0, bytesIn = 0, bytesOut = 0;
  uint64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
  /// At the end of the second: requests outstanding, and connections that have sent but
  /// not yet received anything (a starved connection shows here long before a timeout).
  uint64_t inflight = 0, neverAnswered = 0;
  /// Only in the last second: requests still unanswered when the run ended.
  uint64_t unanswered = 0;
};

struct SyscallCounts {
  uint64_t read = 0, write = 0, wait = 0, connect = 0;
};

struct LoadResult {
  double durationSec = 0;
  bool openLoop = false;
  double targetRate = 0;
  uint64_t requests = 0;   // sent
  uint64_t responses = 0;  // correct responses
  uint64_t errors = 0;     // failed requests and failed connection attempts
  /// Requests still in flight after the end-of-run drain; they count against success.
  uint64_t unanswered = 0;
  int64_t oldestUnansweredAgeNs = 0;
  /// Connections that sent at least one request and received nothing in the whole run.
  uint64_t neverAnswered = 0;
  int connections = 0;  // configured
  std::array<uint64_t, kLoadErrorKinds> errorsByKind{};
  std::array<std::string, kLoadErrorKinds> firstErrorMessage{};
  uint64_t bytesIn = 0, bytesOut = 0;
  /// HTTP: responses by status code, and those outside 2xx (correctly framed, so counted in
  /// `responses`, not in `errors`).
  std::vector<std::pair<int, uint64_t>> statusCodes;
  uint64_t non2xx = 0;
  uint64_t connectionsOpened = 0;
  uint64_t idleOpened = 0, idleFailed = 0, idleDropped = 0;  // idle_connections
  std::string idleError;                                     // why the first idle connect failed
  LatencySummary latency;             // from the intended send time (corrected)
  LatencySummary latencyUncorrected;  // from the actual send time
  std::vector<std::pair<double, uint64_t>> spectrum, spectrumUncorrected;  // (percentile, ns)
  std::vector<TimelinePoint> timeline;
  SyscallCounts syscalls;
  double cpuSec = 0;  // CPU time of the generator's threads
};

}  // namespace netlab
