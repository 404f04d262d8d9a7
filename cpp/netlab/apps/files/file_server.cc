#include "netlab/apps/files/file_server.h"

#include "netlab/apps/files/http_files.h"
#include "netlab/apps/files/line_handler.h"
#include "netlab/core/protocol_sniffer.h"

namespace netlab {
namespace {

using files::FileOptions;

constexpr size_t kMaxPeek = 8;  // "DOWNLOAD" and "OPTIONS " decide within 8 bytes

// Whether `first` starts (or could still start) an HTTP request line: a method we serve and
// a space. Line commands (UPLOAD, DOWNLOAD, RESUME, STAT, LIST, QUIT) share no prefix with
// them but "P" (PUT) and "D" (DELETE): a byte more decides.
enum class Looks { kHttp, kLine, kUnsure };
Looks sniff(std::string_view first) {
  static constexpr std::string_view kMethods[] = {
      "GET ", "HEAD ", "PUT ", "POST ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE ", "CONNECT "};
  bool unsure = false;
  for (std::string_view m : kMethods) {
    size_t n = std::min(first.size(), m.size());
    if (first.substr(0, n) != m.substr(0, n)) continue;
    if (n == m.size()) return Looks::kHttp;
    unsure = true;
  }
  return unsure ? Looks::kUnsure : Looks::kLine;
}

}  // namespace

const std::vector<Field<FileOptions>>& Fields<FileOptions>::fields() {
  using O = FileOptions;
  static const std::vector<Field<O>> table = {
      text("root", &O::root, "directory",
           "the directory served (created if missing); uploads land here, partial ones in "
           "its hidden .netlab area"),
      number("max_file", &O::maxFile, 0, 1e15, "bytes",
             "largest file an upload may make (then ERR too_large, HTTP 413)", "", true),
      number("quota", &O::quota, 0, 1e15, "bytes",
             "most bytes under the root, partial uploads included (then ERR quota, HTTP 507)", "",
             true),
      number("max_uploads", &O::maxUploads, 1, 100000, "uploads",
             "uploads at once (then ERR too_many_uploads, HTTP 503)"),
      number("upload_timeout", &O::uploadTimeoutSec, 0.01, 86400, "seconds",
             "an upload that sends nothing for this long is cut; its partial is kept for a "
             "resume"),
      number("partial_ttl", &O::partialTtlSec, 0, 1e8, "seconds",
             "how long a partial upload is kept for a resume"),
      number("disk_threads", &O::diskThreads, 1, 64, "threads",
             "threads that write uploads, off the event loops (half as many more hash files "
             "placed in the root by other means)"),
      number("sniff_timeout", &O::sniffTimeoutSec, 0.001, 3600, "seconds",
             "a client that sends nothing for this long is spoken to in the line protocol"),
      number("max_headers", &O::maxHeaders, 1, 10000, "fields",
             "HTTP header fields per request (then 431)"),
      number("max_header_line", &O::maxHeaderLine, 64, 1 << 20, "bytes",
             "longest HTTP request line or field line (then 414 or 431)"),
      number("max_head", &O::maxHead, 256, 16 << 20, "bytes",
             "largest HTTP request head (then 431)"),
  };
  return table;
}

Result<std::shared_ptr<Protocol>> FileProtocol::make(FileOptions options) {
  auto store = files::FileStore::open(options);
  if (!store.ok()) return store.error();
  return std::shared_ptr<Protocol>(new FileProtocol(std::move(store.value())));
}

std::unique_ptr<Handler> FileProtocol::newHandler() {
  auto choose = [this](std::string_view first, bool final) -> std::unique_ptr<Handler> {
    Looks looks = sniff(first);
    if (looks == Looks::kUnsure && !final) return nullptr;
    bool http = looks == Looks::kHttp;
    countProtocol(http);
    if (http) return std::make_unique<files::HttpFiles>(*this);
    return std::make_unique<files::LineHandler>(*this);
  };
  return std::make_unique<ProtocolSniffer>(choose, store_->options().sniffTimeoutSec, kMaxPeek);
}

size_t FileProtocol::maxPendingInput() const {
  const FileOptions& o = store_->options();
  return static_cast<size_t>(o.maxHead) + (256 << 10);
}

FileSnapshot FileProtocol::snapshot() const {
  const files::FileCounters& c = store_->counters();
  FileSnapshot s;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.stored = get(c.stored);
  s.served = get(c.served);
  s.sendfileBytes = get(c.sendfileBytes);
  s.resumes = get(c.resumes);
  s.hashed = get(c.hashed);
  s.usedBytes = store_->usedBytes();
  for (size_t i = 1; i < files::kRefusals; ++i) {
    uint64_t n = get(c.refusals[i]);
    if (n) s.refusals[std::string(files::refusalName(static_cast<files::Refusal>(i)))] = n;
  }
  s.protocols["http"] = get(httpConns_);
  s.protocols["line"] = get(lineConns_);
  return s;
}

}  // namespace netlab
