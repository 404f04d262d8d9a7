#include "netlab/apps/http/http_handler.h"

#include <algorithm>
#include <cstdio>

#include "netlab/apps/http/response.h"
#include "netlab/io/socket.h"

namespace netlab::apps::http {
namespace {

using netlab::http::Event;
using netlab::http::Framing;

constexpr std::string_view kRootText =
    "netlab HttpServer: an httpbin-like origin (/get /post /bytes/N /stream/N /delay/MS "
    "/status/CODE /headers /ip /anything /cache /cache/N)\n";
constexpr size_t kPiece = 64 * 1024;    // one send of a streamed body
constexpr size_t kWindow = 256 * 1024;  // queued output a streamed body keeps topped up

// /bytes/N's content: a 64-character alphabet repeated, so a client can check any range.
const std::string& bytesPattern() {
  static const std::string pattern = [] {
    static const char kAlphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    std::string p(kPiece, '\0');
    for (size_t i = 0; i < p.size(); ++i) p[i] = kAlphabet[i % 64];
    return p;
  }();
  return pattern;
}

bool isError(RouteKind k) {
  return k == RouteKind::kNotFound || k == RouteKind::kBadMethod || k == RouteKind::kBadArgument;
}

}  // namespace

HttpHandler::HttpHandler(HttpProtocol& protocol)
    : protocol_(protocol),
      parser_(netlab::http::Role::kRequest, netlab::http::limitsOf(protocol.options())) {}

// A response is made here and copied out by send() at once, so the connections of a thread
// share one string, which stays cached, where one per connection would be a cold line or
// four for every response at hundreds of connections. Cleared for each use.
std::string& HttpHandler::scratch() {
  thread_local std::string out;
  out.clear();
  return out;
}

size_t HttpHandler::onData(Conn& conn, Buffer& input) {
  input_ = &input;
  inOnData_ = true;
  size_t requests = loop(conn, input);
  inOnData_ = false;
  return requests;
}

size_t HttpHandler::loop(Conn& conn, Buffer& input) {
  size_t requests = 0;
  while (!busy_ && !closing_) {
    // The budget is asked between requests: a client that pipelines thousands waits its turn.
    if (!inMessage_ && !conn.budgetLeft()) break;
    Event e = parser_.next(input.view());
    switch (e.type) {
      case Event::kNeedData:
        input.consume(e.consumed);  // framing read on the way (a chunk-size line)
        if (peerDone_) {            // the client half-closed and every request it sent is answered
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
        respond(conn);
        if (!busy_ && closeAfter_) {
          closing_ = true;
          conn.closeAfterFlush();
        }
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

// A client may half-close once its requests are sent; what it asked for is still answered.
bool HttpHandler::onEof(Conn&) {
  peerDone_ = true;
  return busy_;
}

void HttpHandler::onDrained(Conn& conn) {
  if (busy_ && streamLeft_ > 0) pump(conn);
}

void HttpHandler::onHead(Conn& conn) {
  const netlab::http::Head& h = parser_.head();
  protocol_.countRequest(h.method);
  inMessage_ = true;
  bodySize_ = 0;
  headRequest_ = h.method == "HEAD";
  closeAfter_ = !h.keepAlive;
  keepAlive10_ = h.versionMinor == 0 && h.keepAlive;
  route_ = route(h.method, splitTarget(h.target).first);
  hashing_ = route_.kind == RouteKind::kEcho;
  if (hashing_) sha_.reset();
  bool hasBody = h.framing != Framing::kNone;
  if (h.contentLength > protocol_.options().bodyLimit) {
    closeAfter_ = closing_ = true;  // the body is not read: the connection cannot go on
    respondSimple(conn, 413, "text/plain", "request body larger than the server's limit\n");
    conn.closeAfterFlush();
  } else if (h.expectContinue && hasBody && isError(route_.kind)) {
    closeAfter_ = closing_ = true;  // refused before the body is sent (RFC 9110 §10.1.1)
    respond(conn);
    conn.closeAfterFlush();
  } else if (h.expectContinue && hasBody) {
    conn.send("HTTP/1.1 100 Continue\r\n\r\n");
    protocol_.countResponse(100);
  }
}

void HttpHandler::onBody(Conn& conn, std::string_view piece) {
  bodySize_ += piece.size();
  if (hashing_) sha_.update(piece);
  if (bodySize_ > static_cast<uint64_t>(protocol_.options().bodyLimit) && !closing_) {
    closeAfter_ = closing_ = true;  // a chunked body grew past the limit
    respondSimple(conn, 413, "text/plain", "request body larger than the server's limit\n");
    conn.closeAfterFlush();
  }
}

void HttpHandler::failParse(Conn& conn) {
  const auto& error = parser_.error();
  closeAfter_ = closing_ = true;
  if (!inMessage_) headRequest_ = keepAlive10_ = false;  // not the previous request's
  respondSimple(conn, error.status, "text/plain", std::string(error.reason) + "\n");
  conn.fail(error.reason);
}

void HttpHandler::respond(Conn& conn) {
  const netlab::http::Head& h = parser_.head();
  if (h.method == "OPTIONS" && !isError(route_.kind)) {
    std::string allow = "Allow: " + std::string(route_.allow) + "\r\n";
    sendHead(conn, 204, {}, kNoLength, allow);
    return;
  }
  switch (route_.kind) {
    case RouteKind::kRoot:
      return respondSimple(conn, 200, "text/plain", kRootText);
    case RouteKind::kGet:
    case RouteKind::kEcho:
    case RouteKind::kHeaders:
    case RouteKind::kIp:
      return respondJson(conn, route_.kind);
    case RouteKind::kCache:
      return respondCache(conn, route_.number);
    case RouteKind::kBytes:
    case RouteKind::kStream:
      return startStream(conn, route_.kind, route_.number);
    case RouteKind::kDelay:
      return startDelay(conn, route_.number);
    case RouteKind::kStatus: {
      int status = static_cast<int>(route_.number);
      bool bodiless = status == 204 || status == 304;
      std::string_view extra = status >= 300 && status < 400 ? "Location: /get\r\n" : "";
      return sendHead(conn, status, {}, bodiless ? kNoLength : 0, extra);
    }
    case RouteKind::kNotFound:
      return respondSimple(conn, 404, "text/plain", "not found\n");
    case RouteKind::kBadMethod: {
      std::string allow = "Allow: " + std::string(route_.allow) + "\r\n";
      return respondSimple(conn, 405, "text/plain", "method not allowed\n", allow);
    }
    case RouteKind::kBadArgument:
      return respondSimple(conn, 400, "text/plain", std::string(route_.problem) + "\n");
  }
}

// httpbin's /cache/N (Cache-Control: public, max-age=N) and /cache (validators on the answer,
// and 304 to any request that brings one), for trying caches in front of this server.
void HttpHandler::respondCache(Conn& conn, int64_t maxAge) {
  if (maxAge >= 0) {
    std::string cc = "Cache-Control: public, max-age=" + std::to_string(maxAge) + "\r\n";
    return respondJson(conn, RouteKind::kGet, cc);
  }
  static constexpr std::string_view kValidators =
      "ETag: \"netlab-cache\"\r\nLast-Modified: Thu, 01 Jan 2026 00:00:00 GMT\r\n";
  const netlab::http::Head& h = parser_.head();
  if (h.find("if-none-match") || h.find("if-modified-since")) {
    return sendHead(conn, 304, {}, kNoLength, kValidators);
  }
  respondJson(conn, RouteKind::kGet, kValidators);
}

void HttpHandler::respondJson(Conn& conn, RouteKind kind, std::string_view extra) {
  std::string origin = withoutPort(conn.peer());
  std::string body;
  if (kind == RouteKind::kHeaders) {
    body = "{\"headers\": ";
    appendHeadersJson(body, parser_.head());
    body += "}\n";
  } else if (kind == RouteKind::kIp) {
    body = "{\"origin\": \"" + origin + "\"}\n";
  } else {
    Exchange x{parser_.head(), origin, bodySize_, hashing_ ? sha_.hexDigest() : "", -1};
    appendRequestJson(body, x, kind);
    body += "\n";
  }
  respondSimple(conn, 200, "application/json", body, extra);
}

void HttpHandler::sendHead(Conn& conn, int status, std::string_view contentType, int64_t length,
                           std::string_view extra) {
  std::string& out = scratch();
  appendHead(out, {status, contentType, length, closeAfter_, keepAlive10_, extra});
  conn.send(out);
  protocol_.countResponse(status);
}

void HttpHandler::respondSimple(Conn& conn, int status, std::string_view contentType,
                                std::string_view body, std::string_view extra) {
  std::string& out = scratch();
  appendHead(out, {status, contentType, static_cast<int64_t>(body.size()), closeAfter_,
                   keepAlive10_, extra});
  if (!headRequest_) out += body;  // HEAD: the same fields, no body (RFC 9110 §9.3.2)
  conn.send(out);
  protocol_.countResponse(status);
}

void HttpHandler::startStream(Conn& conn, RouteKind kind, int64_t count) {
  bool bytes = kind == RouteKind::kBytes;
  // Chunked framing is for HTTP/1.1 clients only (RFC 9112 §6.1): a 1.0 client reads the
  // lines until the server closes.
  chunked_ = !bytes && parser_.head().versionMinor >= 1;
  if (!bytes && !chunked_) closeAfter_ = true;
  sendHead(conn, 200, bytes ? "application/octet-stream" : "application/json",
           bytes      ? count
           : chunked_ ? kChunked
                      : kNoLength);
  if (headRequest_) return;
  streamKind_ = kind;
  streamLeft_ = count;
  streamNext_ = 0;
  if (!bytes) {  // the document is made once; each line only adds its id
    streamDoc_.clear();
    std::string origin = withoutPort(conn.peer());  // Exchange only views it
    Exchange x{parser_.head(), origin, 0, {}, -1};
    appendRequestJson(streamDoc_, x, RouteKind::kStream);
  }
  busy_ = true;
  pump(conn);
  if (busy_) {
    conn.pauseReading();
    paused_ = true;
  }
}

// Tops the queued output up to a window and waits for it to drain (onDrained), so a body of
// any size costs the server a bounded amount of memory and goes at the client's pace.
void HttpHandler::pump(Conn& conn) {
  while (streamLeft_ > 0 && conn.queuedOutput() < kWindow) {
    if (streamKind_ == RouteKind::kBytes) {
      size_t n = static_cast<size_t>(std::min<int64_t>(streamLeft_, kPiece));
      conn.send(std::string_view(bytesPattern()).substr(0, n));
      streamLeft_ -= static_cast<int64_t>(n);
      continue;
    }
    std::string line = "{\"id\": " + std::to_string(streamNext_++) + ", ";
    line.append(streamDoc_, 1);  // the document without its opening brace
    line += "\n";
    std::string& out = scratch();
    if (chunked_) {
      char size[24];
      int n = std::snprintf(size, sizeof size, "%zx\r\n", line.size());
      out.append(size, static_cast<size_t>(n));
    }
    out += line;
    if (chunked_) out += "\r\n";
    conn.send(out);
    --streamLeft_;
  }
  if (streamLeft_ > 0) return;
  if (streamKind_ == RouteKind::kStream && chunked_) conn.send("0\r\n\r\n");
  finishBusy(conn);
}

void HttpHandler::startDelay(Conn& conn, int64_t ms) {
  busy_ = true;
  conn.pauseReading();
  paused_ = true;
  conn.runAfter(static_cast<double>(ms) / 1000.0, [this, &conn] {
    respondJson(conn, RouteKind::kGet);
    finishBusy(conn);
  });
}

void HttpHandler::finishBusy(Conn& conn) {
  busy_ = false;
  if (closeAfter_) {
    closing_ = true;
    conn.closeAfterFlush();
    return;
  }
  if (paused_) {
    paused_ = false;
    conn.resumeReading();  // pipelined requests that waited are offered again
  }
  // After a half-close no read will come to prompt that: answer what is held, then close.
  // (Inside onData its own loop goes on with the input.)
  if (peerDone_ && !inOnData_ && input_) onData(conn, *input_);
}

}  // namespace netlab::apps::http
