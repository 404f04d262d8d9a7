// A blocking client of FileServer's line protocol, for Python (netlab.FileClient) and the
// CLI's put and get: one connection a call, every wait bounded by the timeout and sliced so
// a progress callback (and, through it, Ctrl+C) is heard every kTick. Uploads leave through
// sendfile(2) and resume from what the server holds (RESUME); downloads are written to
// <path>.part and renamed once their sha256 matches, resuming from the .part on disk.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "netlab/core/options.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab {

struct FileClientOptions {
  std::string host = "127.0.0.1";
  int64_t port = 12345;
  double timeoutSec = 30;  // connect, and the longest silence of the server during a call
};
template <>
struct Fields<FileClientOptions> {
  static const std::vector<Field<FileClientOptions>>& fields();
};

class FileClient {
 public:
  static constexpr double kTick = 0.1;  // seconds between progress calls
  /// Told the bytes moved so far and the total, at most every kTick and once at the end;
  /// returning false cancels the transfer (an Error with ECANCELED).
  using Progress = std::function<bool(int64_t done, int64_t total)>;

  struct Transfer {
    std::string name;
    int64_t size = 0;
    std::string sha256;
    int64_t resumedFrom = 0;  // bytes already in place before this call
    double seconds = 0;
  };
  struct RemoteStat {
    bool exists = false;
    int64_t size = 0;
    std::string sha256;
    int64_t partial = -1;  // bytes a partial upload holds, when there is one and no file
  };
  struct Entry {
    std::string name;
    bool dir = false;
    int64_t size = 0;
  };

  static Result<FileClient> make(const FileClientOptions& options);

  Result<Transfer> upload(const std::string& path, const std::string& name, bool resume,
                          const Progress& progress);
  Result<Transfer> download(const std::string& name, const std::string& path, bool resume,
                            const Progress& progress);
  Result<RemoteStat> stat(const std::string& name);
  Result<std::vector<Entry>> list(const std::string& dir);

 private:
  class Session;
  explicit FileClient(FileClientOptions options) : options_(std::move(options)) {}
  Result<Transfer> uploadOnce(const std::string& path, const std::string& name, bool resume,
                              const Progress& progress);
  Result<Transfer> downloadOnce(const std::string& name, const std::string& path, bool resume,
                                const Progress& progress);

  FileClientOptions options_;
};

/// The sha256 of a local file as 64 hex digits; `progress` as above.
Result<std::string> sha256OfFile(const std::string& path);

}  // namespace netlab
