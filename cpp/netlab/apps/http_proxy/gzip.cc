#include "netlab/apps/http_proxy/gzip.h"

#include <cctype>
#include <cstdlib>

#include "netlab/apps/http_proxy/filter.h"

namespace netlab {
namespace {

using netlab::http::equalsIgnoreCase;
using netlab::http::trimWhitespace;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The q-value of one Accept-Encoding member ("gzip;q=0.5"); 1 without one, 0 when malformed.
double qualityOf(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = trimWhitespace(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
    std::string value(trimWhitespace(p.substr(2)));
    char* end = nullptr;
    double q = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0' || q < 0 || q > 1) return 0;
    return q;
  }
  return 1;
}

}  // namespace

Result<std::vector<std::string>> parseGzipTypes(std::string_view text) {
  std::vector<std::string> types;
  for (std::string_view item : splitList(text, " ,\t\n")) {
    size_t slash = item.find('/');
    if (item != "*" &&
        (slash == 0 || slash == std::string_view::npos || slash + 1 == item.size())) {
      return Error{EINVAL, "gzip_types: '" + std::string(item) +
                               "' is not a media type (type/subtype, type/* or *)"};
    }
    types.push_back(lower(item));
  }
  return types;
}

bool acceptsGzip(const netlab::http::Head& request) {
  double gzip = -1, any = -1;
  for (const netlab::http::Field& f : request.fields) {
    if (!equalsIgnoreCase(f.name, "accept-encoding")) continue;
    std::string_view list = f.value;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view member = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      size_t semi = member.find(';');
      std::string_view coding = trimWhitespace(member.substr(0, semi));
      double q = semi == std::string_view::npos ? 1 : qualityOf(member.substr(semi + 1));
      if (equalsIgnoreCase(coding, "gzip") || equalsIgnoreCase(coding, "x-gzip")) {
        gzip = std::max(gzip, q);
      } else if (coding == "*") {
        any = std::max(any, q);
      }
    }
  }
  return gzip >= 0 ? gzip > 0 : any > 0;
}

bool shouldGzip(const GzipPolicy& policy, bool clientAccepts, bool toHead,
                const netlab::http::Head& response) {
  if (!policy.on || !clientAccepts || toHead) return false;
  int s = response.status;
  if (s != 200 && s != 403 && s != 404 && s != 410) return false;
  if (response.framing == netlab::http::Framing::kNone) return false;
  if (response.contentLength >= 0 && response.contentLength < policy.minLength) return false;
  if (const auto* enc = response.find("content-encoding");
      enc && !equalsIgnoreCase(enc->value, "identity")) {
    return false;
  }
  if (const auto* cc = response.find("cache-control");
      cc && netlab::http::listHasToken(cc->value, "no-transform")) {
    return false;
  }
  const auto* type = response.find("content-type");
  if (!type) return false;
  std::string media = lower(trimWhitespace(type->value.substr(0, type->value.find(';'))));
  for (const std::string& t : policy.types) {
    if (t == "*" || t == media) return true;
    if (t.size() > 2 && t.compare(t.size() - 2, 2, "/*") == 0 &&
        media.compare(0, t.size() - 1, t, 0, t.size() - 1) == 0) {
      return true;
    }
  }
  return false;
}

bool GzipStream::begin(int level, int64_t knownLength) {
  end();
  // A window no larger than the body: a 2 KiB response needs 2 KiB of history, not 32 KiB,
  // and zlib's memory is about 2^(windowBits+2) + 2^(memLevel+9) bytes.
  int windowBits = 15, memLevel = 8;
  if (knownLength > 0) {
    while (knownLength < (int64_t{1} << (windowBits - 1)) && windowBits > 9) {
      --windowBits;
      if (memLevel > 1) --memLevel;
    }
  }
  z_ = {};
  if (deflateInit2(&z_, level, Z_DEFLATED, windowBits + 16, memLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    return false;
  }
  active_ = true;
  return true;
}

// Small pieces (a chunked stream's lines) are gathered first: zlib's cost per call, CRC
// included, would otherwise outweigh the compression of 200 bytes.
bool GzipStream::compress(std::string_view in, std::string& out) {
  if (in.empty()) return active_;
  pending_ = true;
  if (staged_.empty() && in.size() >= kStage) return run(in, Z_NO_FLUSH, out);
  staged_.append(in);
  if (staged_.size() < kStage) return active_;
  bool ok = run(staged_, Z_NO_FLUSH, out);
  staged_.clear();
  return ok;
}

bool GzipStream::flush(std::string& out) {
  if (!pending_) return active_;
  pending_ = false;
  bool ok = run(staged_, Z_SYNC_FLUSH, out);
  staged_.clear();
  return ok;
}

bool GzipStream::finish(std::string& out) {
  bool ok = run(staged_, Z_FINISH, out);
  end();
  return ok;
}

void GzipStream::end() {
  staged_ = std::string();
  pending_ = false;
  if (!active_) return;
  deflateEnd(&z_);
  active_ = false;
}

// deflate(3): called again while it fills the whole output space; then all input is taken
// and what `flush` asks for is written (Z_BUF_ERROR: nothing was left to do).
bool GzipStream::run(std::string_view in, int flush, std::string& out) {
  if (!active_) return false;
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  unsigned char room[16 * 1024];
  for (;;) {
    z_.next_out = room;
    z_.avail_out = sizeof room;
    int rc = deflate(&z_, flush);
    out.append(reinterpret_cast<const char*>(room), sizeof room - z_.avail_out);
    if (rc == Z_STREAM_END) return true;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
    if (z_.avail_out != 0) return true;
  }
}

}  // namespace netlab
