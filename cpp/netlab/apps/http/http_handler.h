// One HTTP connection of HttpServer: parses requests as they arrive and answers them in
// order. A response that takes time (a /delay timer, a large /bytes or /stream body) makes
// the connection busy: reading pauses and pipelined requests wait their turn, so responses
// never overtake each other and input stays bounded.
#pragma once

#include <cstdint>
#include <string>

#include "netlab/apps/http/http_server.h"
#include "netlab/apps/http/routes.h"
#include "netlab/core/sha256.h"
#include "netlab/http/parser.h"

namespace netlab::apps::http {

class HttpHandler final : public Handler {
 public:
  explicit HttpHandler(HttpProtocol& protocol);

  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onDrained(Conn& conn) override;

 private:
  size_t loop(Conn& conn, Buffer& input);
  void onHead(Conn& conn);
  void onBody(Conn& conn, std::string_view piece);
  void respond(Conn& conn);
  void respondJson(Conn& conn, RouteKind kind, std::string_view extra = {});
  void respondCache(Conn& conn, int64_t maxAge);
  void respondSimple(Conn& conn, int status, std::string_view contentType, std::string_view body,
                     std::string_view extra = {});
  void sendHead(Conn& conn, int status, std::string_view contentType, int64_t length,
                std::string_view extra = {});
  void startStream(Conn& conn, RouteKind kind, int64_t count);
  void pump(Conn& conn);
  void startDelay(Conn& conn, int64_t ms);
  void finishBusy(Conn& conn);
  void failParse(Conn& conn);
  static std::string& scratch();

  // What every request touches first (a server holds a handler per connection, and at
  // hundreds of them each line is a likely miss); a body's hash and a long response's state
  // after.
  HttpProtocol& protocol_;
  Buffer* input_ = nullptr;  // the connection's input buffer, which outlives this handler's calls
  // The request being read.
  bool inMessage_ = false, hashing_ = false, headRequest_ = false, closeAfter_ = false;
  bool keepAlive10_ = false;
  // A response being produced over time.
  bool busy_ = false, paused_ = false, peerDone_ = false, closing_ = false;
  bool inOnData_ = false, chunked_ = false;
  uint64_t bodySize_ = 0;
  Route route_;
  netlab::http::Parser parser_;
  Sha256 sha_;
  std::string streamDoc_;  // /stream's document, made once per request
  RouteKind streamKind_ = RouteKind::kBytes;
  int64_t streamLeft_ = 0, streamNext_ = 0;
};

}  // namespace netlab::apps::http
