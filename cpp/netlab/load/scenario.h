// A load scenario: what each request looks like and what counts as its correct response.
// Scenarios are immutable and shared by every connection; per-connection parse state is
// passed in (`scanned`), as the codecs do.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "netlab/io/buffer.h"
#include "netlab/io/result.h"
#include "netlab/load/load_config.h"

namespace netlab {

enum class Verdict { kIncomplete, kOk, kMismatch, kProtocolError };

/// What a scenario learns of a correct response beyond its verdict.
struct ResponseInfo {
  int status = 0;       // HTTP: the status code (other scenarios: 0)
  bool closes = false;  // the server closes the connection after it (Connection: close)
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  /// Appends request number `seq` to `out`.
  virtual void writeRequest(uint64_t seq, Buffer& out) const = 0;
  /// Judges the bytes at the front of `in` as the response to request `seq`. On kOk,
  /// `consumed` is its length; on a failure, `why` says what was wrong.
  virtual Verdict readResponse(uint64_t seq, std::string_view in, size_t& scanned, size_t& consumed,
                               std::string& why, ResponseInfo& info) const = 0;
  /// The connect scenario: a new connection for every request.
  virtual bool connectionPerRequest() const { return false; }

  // Streaming scenarios (chat): what is sent and what arrives are not paired one to one.
  // Each message carries its send times; each delivery is timed from them.
  virtual bool streaming() const { return false; }
  /// Streaming with no answer at all (syslog): a message is done once written.
  virtual bool oneWay() const { return false; }
  /// Bytes sent once, right after connecting (the chat scenario joins its room).
  virtual void writeGreeting(int /*connection*/, Buffer& /*out*/) const {}
  /// Message `seq`, stamped with its intended and actual send times.
  virtual void writeStamped(uint64_t /*seq*/, int64_t /*intendedNs*/, int64_t /*sentNs*/,
                            Buffer& /*out*/) const {}
  /// Consumes the complete deliveries at the front of `in`, calling onDelivery(intendedNs,
  /// sentNs) for each stamped one. Returns the bytes consumed; sets `why` on a bad stream.
  virtual size_t readDeliveries(std::string_view /*in*/, size_t& /*scanned*/,
                                const std::function<void(int64_t, int64_t)>& /*onDelivery*/,
                                std::string& /*why*/) const {
    return 0;
  }
};

Result<std::unique_ptr<Scenario>> makeScenario(const LoadConfig& config);

}  // namespace netlab
