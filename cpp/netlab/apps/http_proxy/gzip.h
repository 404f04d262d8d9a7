// gzip of responses on their way to the client (nginx's gzip filter): chosen per response
// from the client's Accept-Encoding, the response's type, length and status, then streamed
// through zlib piece by piece, so no body is ever held whole.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netlab/http/message.h"
#include "netlab/io/result.h"

namespace netlab {

struct GzipPolicy {
  bool on = false;
  int level = 1;
  int64_t minLength = 256;
  std::vector<std::string> types;  // media types, lower case; "text/*" covers a family
};

/// The types list of the gzip_types option: separated by spaces or commas.
Result<std::vector<std::string>> parseGzipTypes(std::string_view text);

/// Whether the request's Accept-Encoding admits gzip (RFC 9110 §12.5.3): gzip or x-gzip, or
/// else "*", with a q-value above 0.
bool acceptsGzip(const netlab::http::Head& request);

/// Whether to compress this response: the policy is on, the client accepts gzip, the request
/// was not HEAD, the status is 200, 403, 404 or 410 (nginx's), the body is not encoded
/// already, its type is listed, its length unknown or at least minLength, and it does not
/// say Cache-Control: no-transform.
bool shouldGzip(const GzipPolicy& policy, bool clientAccepts, bool toHead,
                const netlab::http::Head& response);

/// One response body's deflate stream with the gzip wrapper.
class GzipStream {
 public:
  GzipStream() = default;
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;
  ~GzipStream() { end(); }

  /// Starts a stream; `knownLength` (or -1) lets a small body use a smaller window and so
  /// less memory (nginx does the same). False when zlib has no memory for it.
  bool begin(int level, int64_t knownLength);
  /// Compresses `in` onto `out`; zlib may keep some of it back until more comes or flush().
  bool compress(std::string_view in, std::string& out);
  /// What was kept back, onto `out`, ending on a byte boundary (Z_SYNC_FLUSH): called once
  /// per upstream read, so a slow stream's pieces reach the client as they come while a fast
  /// one is compressed in read-sized blocks, not line by line.
  bool flush(std::string& out);
  /// The end of the stream and the gzip trailer onto `out`.
  bool finish(std::string& out);
  bool active() const { return active_; }
  void end();

 private:
  bool run(std::string_view in, int flush, std::string& out);

  static constexpr size_t kStage = 16 * 1024;

  z_stream z_{};
  std::string staged_;  // small pieces gathered for one call
  bool active_ = false;
  bool pending_ = false;  // input given since the last flush
};

}  // namespace netlab
