// A blocking line client for Python (ChatClient) and tests: a native reader thread splits
// incoming bytes into lines with the shared LineCodec and queues them; callers wait for
// lines with a timeout, the GIL released by the binding.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "netlab/codec/codec.h"
#include "netlab/core/options.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab {

/// Defaults here; names, ranges and help in Fields<LineClientOptions> (line_client.cc).
struct LineClientOptions {
  std::string host = "127.0.0.1";
  int64_t port = 12345;
  double timeoutSec = 10;
  int64_t maxLine = 65536;
};

template <>
struct Fields<LineClientOptions> {
  static const std::vector<Field<LineClientOptions>>& fields();
};

class LineClient {
 public:
  enum class Recv { kLine, kTimeout, kClosed };
  /// Lines waiting for the caller; past this the reader stops reading (TCP pushes back).
  static constexpr size_t kMaxQueuedLines = 10000;

  /// Checks `options` against their table, then connects within options.timeoutSec.
  static Result<std::unique_ptr<LineClient>> connect(const LineClientOptions& options);
  LineClient(Fd fd, std::shared_ptr<const Codec> lines);
  ~LineClient();

  /// Writes `line` and a newline; an Error once the connection is broken.
  Status send(std::string_view line);
  /// Waits up to timeoutSec (negative: forever) for the next line.
  Recv recv(double timeoutSec, std::string& line);
  /// Why the stream ended, once recv() has returned kClosed ("" for a clean close).
  std::string closeReason();
  /// Shuts the socket and joins the reader; idempotent.
  void close();

 private:
  void readLoop();

  Fd fd_;
  std::shared_ptr<const Codec> lines_;
  std::mutex writeMutex_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  bool eof_ = false;
  bool closing_ = false;
  std::string closeReason_;
  std::thread reader_;
};

}  // namespace netlab
