#include "netlab/apps/files/http_files.h"

#include <time.h>

#include <cstdio>

#include "netlab/apps/files/names.h"
#include "netlab/apps/http/response.h"
#include "netlab/apps/http/routes.h"

namespace netlab::files {
namespace {

using netlab::apps::http::appendHead;
using netlab::apps::http::kNoLength;
using netlab::apps::http::ResponseHead;
using netlab::http::equalsIgnoreCase;
using netlab::http::Event;
using netlab::http::Framing;
using netlab::http::trimWhitespace;

constexpr std::string_view kAllow = "Allow: GET, HEAD, PUT, OPTIONS\r\n";

// An IMF-fixdate (RFC 9110 §5.6.7), by hand: strftime's names follow the locale.
std::string imfDate(time_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  ::gmtime_r(&t, &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return out;
}

// An IMF-fixdate back to a time; -1 when it is not one.
time_t parseImfDate(std::string_view text) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char month[4] = {};
  int day = 0, year = 0, h = 0, m = 0, s = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &day, month, &year, &h, &m,
                  &s) != 6)
    return -1;
  size_t at = kMonths.find(month);
  if (at == std::string_view::npos || at % 3 != 0) return -1;
  struct tm tm {};
  tm.tm_mday = day;
  tm.tm_mon = static_cast<int>(at / 3);
  tm.tm_year = year - 1900;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  return ::timegm(&tm);
}

// Inode, mtime to the nanosecond and size: a file replaced by an upload (a rename, so a new
// inode) within the same second and with the same size still gets a new tag.
std::string etagOf(const struct stat& st) {
  char out[80];
  int64_t mtimeNs = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  std::snprintf(out, sizeof out, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(st.st_ino),
                static_cast<unsigned long long>(mtimeNs),
                static_cast<unsigned long long>(st.st_size));
  return out;
}

// Whether an If-None-Match list names `etag` (weak comparison, RFC 9110 §13.1.2) or is "*".
bool etagListHas(std::string_view list, std::string_view etag) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trimWhitespace(list.substr(0, comma));
    if (item == "*") return true;
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view contentType(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".txt", "text/plain; charset=utf-8"},
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".css", "text/css"},
      {".js", "text/javascript"},
      {".json", "application/json"},
      {".csv", "text/csv"},
      {".xml", "application/xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".svg", "image/svg+xml"},
      {".pdf", "application/pdf"},
      {".gz", "application/gzip"},
      {".zip", "application/zip"},
      {".tar", "application/x-tar"},
      {".log", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"}};
  size_t dot = name.rfind('.');
  if (dot != std::string_view::npos && name.find('/', dot) == std::string_view::npos) {
    std::string_view ext = name.substr(dot);
    for (const auto& [e, type] : kTypes) {
      if (equalsIgnoreCase(ext, e)) return type;
    }
  }
  return "application/octet-stream";
}

enum class RangeKind { kNone, kOne, kUnsatisfiable };
// One "bytes=" range of a file of `size` bytes. Several ranges, or a malformed one, are
// ignored (RFC 9110 §14.2 lets a server send the whole file instead).
RangeKind parseRange(std::string_view value, int64_t size, int64_t& first, int64_t& last) {
  value = trimWhitespace(value);
  if (value.size() < 6 || !equalsIgnoreCase(value.substr(0, 6), "bytes=")) return RangeKind::kNone;
  std::string_view spec = trimWhitespace(value.substr(6));
  if (spec.find(',') != std::string_view::npos) return RangeKind::kNone;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::kNone;
  auto number = [](std::string_view s, int64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  int64_t a = 0, b = 0;
  if (dash == 0) {  // the last b bytes
    if (!number(spec.substr(1), b)) return RangeKind::kNone;
    if (b == 0 || size == 0) return RangeKind::kUnsatisfiable;
    first = std::max<int64_t>(0, size - b);
    last = size - 1;
    return RangeKind::kOne;
  }
  if (!number(spec.substr(0, dash), a)) return RangeKind::kNone;
  std::string_view rest = spec.substr(dash + 1);
  if (!rest.empty() && (!number(rest, b) || b < a)) return RangeKind::kNone;
  if (a >= size) return RangeKind::kUnsatisfiable;
  first = a;
  last = rest.empty() ? size - 1 : std::min(b, size - 1);
  return RangeKind::kOne;
}

}  // namespace

HttpFiles::HttpFiles(FileProtocol& protocol)
    : store_(protocol.store()),
      parser_(netlab::http::Role::kRequest, netlab::http::limitsOf(protocol.store().options())),
      stall_([this] {
        store_.counters().refuse(Refusal::kStalled);
        if (conn_) conn_->close({CloseKind::kIdleTimeout, 0, "upload stalled"});
      }) {}

void HttpFiles::onOpen(Conn& conn) { conn_ = &conn; }

size_t HttpFiles::onData(Conn& conn, Buffer& input) {
  input_ = &input;
  size_t requests = 0;
  while (!waiting_ && !closing_ && !diskBehind_) {
    if (!inMessage_ && !conn.budgetLeft()) break;
    Event e = parser_.next(input.view());
    switch (e.type) {
      case Event::kNeedData:
        input.consume(e.consumed);
        if (peerDone_ && !inMessage_) {
          closing_ = true;
          conn.closeAfterFlush();
        }
        return requests;
      case Event::kHead:
        input.consume(e.consumed);
        onHead(conn);
        break;
      case Event::kBody:
        onBody(conn, e.body);  // before consume: the piece is a view into input
        input.consume(e.consumed);
        break;
      case Event::kEnd:
        input.consume(e.consumed);
        inMessage_ = false;
        ++requests;
        onEnd(conn);
        break;
      case Event::kClosed:
        closing_ = true;
        conn.closeAfterFlush();
        break;
      case Event::kError:
        failParse(conn);
        break;
    }
  }
  return requests;
}

void HttpFiles::failParse(Conn& conn) {
  const auto& error = parser_.error();
  closeAfter_ = closing_ = true;
  if (!inMessage_) headRequest_ = keepAlive10_ = false;
  respond(conn, error.status, "text/plain", std::string(error.reason) + "\n");
  conn.fail(error.reason);
}

void HttpFiles::onHead(Conn& conn) {
  const netlab::http::Head& h = parser_.head();
  inMessage_ = true;
  answered_ = false;
  headRequest_ = h.method == "HEAD";
  closeAfter_ = !h.keepAlive;
  keepAlive10_ = h.versionMinor == 0 && h.keepAlive;
  if (h.method == "PUT") startPut(conn);
}

void HttpFiles::onBody(Conn& conn, std::string_view piece) {
  if (!upload_ || answered_ || closing_) return;  // a GET's body is read and dropped
  Refusal r = upload_->write(piece);
  if (r != Refusal::kNone) {
    answered_ = true;
    closeAfter_ = true;
    return refuse(conn, r);
  }
  stall_.set(conn, store_.options().uploadTimeoutSec);
  if (upload_->behind()) {
    diskBehind_ = true;
    stall_.clear();  // the wait is the disk's, not the client's
    conn.pauseReading();
  }
}

void HttpFiles::onEnd(Conn& conn) {
  const netlab::http::Head& h = parser_.head();
  if (answered_) return finishResponse(conn);
  if (h.method == "PUT") {
    stall_.clear();
    upload_->finish();
    waiting_ = true;
    return conn.pauseReading();
  }
  if (h.method == "GET" || h.method == "HEAD") return get(conn);
  if (h.method == "OPTIONS") {
    sendHead(conn, 204, {}, kNoLength, kAllow);
    return finishResponse(conn);
  }
  respond(conn, 405, "text/plain", "method not allowed\n", kAllow);
  finishResponse(conn);
}

bool HttpFiles::nameOf(Conn& conn, std::string& name, bool& dir) {
  std::string_view path = netlab::apps::http::splitTarget(parser_.head().target).first;
  if (path.empty() || path.front() != '/' || !percentDecode(path.substr(1), name)) {
    refuse(conn, Refusal::kBadName, "malformed path");
    return false;
  }
  dir = name.empty() || name.back() == '/';
  if (!name.empty() && name.back() == '/') name.pop_back();
  std::string_view problem = name.empty() ? std::string_view{} : nameProblem(name);
  if (!problem.empty()) {
    refuse(conn, Refusal::kBadName, problem);
    return false;
  }
  return true;
}

void HttpFiles::refuse(Conn& conn, Refusal r, std::string_view why) {
  store_.counters().refuse(r);
  std::string body = std::string(refusalName(r));
  if (!why.empty()) body += ": " + std::string(why);
  body += "\n";
  respond(conn, httpStatus(r), "text/plain", body);
}

void HttpFiles::sendHead(Conn& conn, int status, std::string_view type, int64_t length,
                         std::string_view extra) {
  out_.clear();
  appendHead(out_, ResponseHead{status, type, length, closeAfter_, keepAlive10_, extra});
  conn.send(out_);
}

void HttpFiles::respond(Conn& conn, int status, std::string_view type, std::string_view body,
                        std::string_view extra) {
  out_.clear();
  appendHead(out_, ResponseHead{status, type, static_cast<int64_t>(body.size()), closeAfter_,
                                keepAlive10_, extra});
  if (!headRequest_) out_ += body;
  conn.send(out_);
}

void HttpFiles::finishResponse(Conn& conn) {
  if (closeAfter_) {
    closing_ = true;
    return conn.closeAfterFlush();
  }
  if (waiting_) {
    waiting_ = false;
    conn.resumeReading();
  }
}

// --- GET and HEAD -----------------------------------------------------------------------

void HttpFiles::get(Conn& conn) {
  std::string name;
  bool dir = false;
  if (!nameOf(conn, name, dir)) return finishResponse(conn);
  Opened o = openForReading(store_, name, true);
  if (o.refusal != Refusal::kNone) {
    refuse(conn, o.refusal);
  } else if (o.isDir() && !dir) {  // relative links in the listing need the slash
    std::string path(netlab::apps::http::splitTarget(parser_.head().target).first);
    respond(conn, 301, "text/plain", "moved\n", "Location: " + path + "/\r\n");
  } else if (o.isDir()) {
    listing(conn, o, name);
  } else if (dir) {
    refuse(conn, Refusal::kNotFound, "not a directory");
  } else {
    sendFileResponse(conn, o);
  }
  finishResponse(conn);
}

void HttpFiles::sendFileResponse(Conn& conn, Opened& file) {
  const netlab::http::Head& h = parser_.head();
  int64_t size = file.st.st_size;
  std::string etag = etagOf(file.st), modified = imfDate(file.st.st_mtime);
  std::string fields =
      "Accept-Ranges: bytes\r\nETag: " + etag + "\r\nLast-Modified: " + modified + "\r\n";
  const netlab::http::Field* inm = h.find("if-none-match");
  const netlab::http::Field* ims = h.find("if-modified-since");
  time_t since = ims && !inm ? parseImfDate(ims->value) : -1;
  if ((inm && etagListHas(inm->value, etag)) || (since >= 0 && file.st.st_mtime <= since)) {
    sendHead(conn, 304, {}, kNoLength, fields);
    return;
  }
  int64_t first = 0, last = size - 1;
  RangeKind range = RangeKind::kNone;
  if (const netlab::http::Field* r = h.find("range")) {
    const netlab::http::Field* ifRange = h.find("if-range");
    bool current = !ifRange || ifRange->value == etag || ifRange->value == modified;
    if (current) range = parseRange(r->value, size, first, last);
  }
  if (range == RangeKind::kUnsatisfiable) {
    store_.counters().refuse(Refusal::kBadRange);
    fields += "Content-Range: bytes */" + std::to_string(size) + "\r\n";
    respond(conn, 416, "text/plain", "range not satisfiable\n", fields);
    return;
  }
  int status = 200;
  if (range == RangeKind::kOne) {
    status = 206;
    fields += "Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
              std::to_string(size) + "\r\n";
  }
  int64_t length = size == 0 ? 0 : last - first + 1;
  sendHead(conn, status, contentType(parser_.head().target), length, fields);
  if (headRequest_ || length == 0) return;
  sendRange(conn, file.fd.get(), first, length, store_.counters());
}

void HttpFiles::listing(Conn& conn, Opened& dir, const std::string& name) {
  std::string title = htmlEscape("/" + name + (name.empty() ? "" : "/"));
  std::string body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of " +
                     title + "</title></head>\n<body><h1>Index of " + title + "</h1><hr><pre>\n";
  if (!name.empty()) body += "<a href=\"../\">../</a>\n";
  for (const Entry& e : listDirectory(dir.fd.get(), name.empty(), kMaxListing)) {
    std::string shown = e.name + (e.dir ? "/" : "");
    body += "<a href=\"" + htmlEscape(percentEncode(shown)) + "\">" + htmlEscape(shown) + "</a> " +
            imfDate(e.mtime) + " " + (e.dir ? "-" : std::to_string(e.size)) + "\n";
  }
  body += "</pre><hr></body></html>\n";
  respond(conn, 200, "text/html; charset=utf-8", body);
}

// --- PUT ----------------------------------------------------------------------------------

void HttpFiles::startPut(Conn& conn) {
  const netlab::http::Head& h = parser_.head();
  auto refuseAtHead = [&](Refusal r, std::string_view why) {
    answered_ = closeAfter_ = true;  // the body is not read: the connection cannot go on
    refuse(conn, r, why);
    closing_ = true;
    conn.closeAfterFlush();
  };
  std::string name;
  bool dir = false;
  std::string_view path = netlab::apps::http::splitTarget(h.target).first;
  if (path.empty() || path.front() != '/' || !percentDecode(path.substr(1), name)) {
    return refuseAtHead(Refusal::kBadName, "malformed path");
  }
  dir = name.empty() || name.back() == '/';
  std::string_view problem = dir ? "a directory cannot be uploaded" : nameProblem(name);
  if (!problem.empty()) return refuseAtHead(Refusal::kBadName, problem);
  Upload::Spec spec;
  spec.name = name;
  spec.size = h.framing == Framing::kChunked  ? -1
              : h.framing == Framing::kLength ? h.contentLength
                                              : 0;
  if (const netlab::http::Field* sum = h.find("x-checksum-sha256")) {
    spec.sha = std::string(sum->value);
    for (char& c : spec.sha) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  Refusal r = Refusal::kNone;
  auto notify = [this](Conn& c, Upload& u, Upload::Event e) { onUploadEvent(c, u, e); };
  upload_ = Upload::start(store_, std::move(spec), conn.outlet(), notify, r);
  if (!upload_) return refuseAtHead(r, {});
  if (h.expectContinue && h.framing != Framing::kNone) conn.send("HTTP/1.1 100 Continue\r\n\r\n");
  stall_.set(conn, store_.options().uploadTimeoutSec);
}

void HttpFiles::onUploadEvent(Conn& conn, Upload& upload, Upload::Event event) {
  if (&upload != upload_.get() || closing_) return;
  switch (event) {
    case Upload::Event::kCaughtUp:
      if (!diskBehind_) return;
      diskBehind_ = false;
      if (waiting_) return;
      stall_.set(conn, store_.options().uploadTimeoutSec);
      conn.resumeReading();
      // The body's end may already be in (a Content-Length body ends without another byte
      // arriving): parse on rather than wait for a read that will not come.
      if (input_) onData(conn, *input_);
      return;
    case Upload::Event::kFailed:
      if (answered_) return;
      answered_ = closeAfter_ = true;
      stall_.clear();
      refuse(conn, upload.outcome().refusal, upload.outcome().why);
      closing_ = true;
      return conn.closeAfterFlush();
    case Upload::Event::kDone: {
      std::shared_ptr<Upload> keep = std::move(upload_);
      const Upload::Outcome& o = keep->outcome();
      if (answered_) return;
      if (o.refusal != Refusal::kNone) {
        refuse(conn, o.refusal, o.why);
      } else {
        std::string fields = "X-Checksum-Sha256: " + o.sha + "\r\n";
        std::string body = "stored " + std::to_string(o.size) + " bytes, sha256 " + o.sha + "\n";
        respond(conn, o.created ? 201 : 200, "text/plain", body, fields);
      }
      finishResponse(conn);
      if (peerDone_ && !closing_) {  // the client half-closed after its body: nothing follows
        closing_ = true;
        conn.closeAfterFlush();
      }
      return;
    }
  }
}

bool HttpFiles::onEof(Conn&) {
  peerDone_ = true;
  if (upload_ && inMessage_) return false;  // cut in the middle of a body: kept for nothing
  return waiting_;
}

void HttpFiles::onClose(Conn&, const CloseReason&) {
  stall_.clear();
  if (upload_ && !upload_->ending()) upload_->abandon();
  upload_.reset();
  conn_ = nullptr;
}

}  // namespace netlab::files
