// The two handlers of one proxied exchange: ClientSide parses the client's requests and answers
// it; UpstreamSide parses the upstream's responses. Both run on the client connection's thread
// (the upstream connection is opened from it, or taken from that thread's pool), so they reach
// each other through a Link of plain pointers that each side clears when it goes. An upstream
// connection is linked to a client for one exchange, then parked in the pool. One request is
// forwarded at a time; pipelined requests wait in the client's input, which stays bounded
// because reading pauses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netlab/apps/http_proxy/access_log.h"
#include "netlab/apps/http_proxy/cache.h"
#include "netlab/apps/http_proxy/gzip.h"
#include "netlab/apps/http_proxy/pool.h"
#include "netlab/apps/http_proxy/proxy.h"
#include "netlab/apps/http_proxy/rewrite.h"
#include "netlab/apps/relay_end.h"
#include "netlab/core/deadline.h"
#include "netlab/http/parser.h"

namespace netlab::apps::proxy {

class ClientSide;
class UpstreamSide;

struct Link {
  ClientSide* client = nullptr;
  UpstreamSide* upstream = nullptr;  // the current upstream connection's handler
  Conn* upstreamConn = nullptr;      // set once it has connected
};

class UpstreamSide final : public Handler {
 public:
  UpstreamSide(std::shared_ptr<Link> link, netlab::http::Limits limits,
               std::shared_ptr<UpstreamPool> pool, size_t upstream);
  void onOpen(Conn& conn) override;
  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onDrained(Conn& conn) override;
  void onHighWater(Conn& conn, size_t queued) override;
  void onClose(Conn& conn, const CloseReason& reason) override;
  void expectResponseTo(std::string_view method) { parser_.expectResponseTo(method); }
  /// Taken from the pool for `link`'s next exchange.
  void attach(std::shared_ptr<Link> link);
  /// Into the pool once its response has ended; false when the pool keeps none.
  bool park();
  void closeIdle(CloseKind kind, std::string_view why);

 private:
  bool current() const { return link_ && link_->upstream == this; }
  bool deliver(Conn& conn, const netlab::http::Event& e, bool moreInput);

  std::shared_ptr<Link> link_;  // null while parked
  netlab::http::Parser parser_;
  std::shared_ptr<UpstreamPool> pool_;
  size_t upstream_;
  Conn* conn_ = nullptr;
  bool opened_ = false, parked_ = false;
  Deadline idle_;  // while parked
};

class ClientSide final : public Handler {
 public:
  /// Response bytes queued for the client past which the upstream is no longer read: a few
  /// reads' worth, so a fast client never waits on it.
  static constexpr size_t kClientBuffer = 2 * Buffer::kReadChunk;
  /// nginx's proxy_cache_lock_timeout: how long a request waits for another's fetch of the
  /// same key before it goes to the upstream itself.
  static constexpr double kCacheLockSec = 5;
  explicit ClientSide(HttpProxyProtocol& protocol);
  ~ClientSide() override;
  void onOpen(Conn& conn) override;
  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onDrained(Conn& conn) override;
  void onHighWater(Conn& conn, size_t queued) override;
  void onClose(Conn& conn, const CloseReason& reason) override;

  // Called by the upstream side.
  void upstreamOpen(Conn& upstream);
  bool responseHead(const netlab::http::Head& head);  // false: no request is waiting for it
  void responseBody(std::string_view piece);
  void upstreamFailed(const CloseReason& reason, bool opened);
  void upstreamFinished(bool upstreamCloses);
  void upstreamBackedUp(bool full);
  void upstreamReadDone();
  /// Another exchange's fetch of the key this one waits for has ended (cache_exchange.cc).
  void fetchEnded(uint64_t wait);
  /// Lets go of the upstream connection (returned, to be closed by the caller).
  Conn* detachUpstream();

 private:
  size_t loop(Conn& conn, Buffer& input);
  void beginRequest();
  void openTunnel(const netlab::http::Head& head);
  void tunnelOpen();
  void tunnelFailed(const CloseReason& reason);
  void startAttempt(bool freshConnection);
  bool retry(const CloseReason& reason, bool opened);
  void forwardBody(std::string_view piece);
  void sendResponseHead(const netlab::http::Head& head, const std::string& extra, bool mayGzip);
  void sendBody(std::string_view piece);
  void requestDone();
  void connectUpstream();
  void releaseUpstream();
  void continueRequest();
  bool refused(const netlab::http::Head& head);
  void answerError(int status, std::string_view why, bool protocolError,
                   std::string_view extraFields = {});
  void failParse();
  // The response cache (cache_exchange.cc).
  bool consultCache(const netlab::http::Head& h);
  bool lookUp(bool mayFetch);
  void stopWaitingForFetch();
  void serveStored(const StoredResponse& r, const char* how);
  void sendStored(const netlab::http::Head& head, std::string_view body, const std::string& extra);
  void beginFill(const netlab::http::Head& response);
  void fillBody(std::string_view piece);
  void endFill();
  void refreshStale(const netlab::http::Head& notModifiedHead);
  HeaderEdits revalidationEdits() const;
  void endCacheExchange();
  void armTimer();
  void onTimeout();
  void updateReading();
  void parkUpstream(bool upstreamCloses);
  void upstreamRevalidated(bool upstreamCloses);
  void finishExchange();
  void logExchange();

  HttpProxyProtocol& protocol_;
  std::shared_ptr<Link> link_;
  netlab::http::Parser parser_;
  Conn* conn_ = nullptr;
  Buffer* input_ = nullptr;
  std::shared_ptr<UpstreamPool> pool_;
  std::string ip_, scratch_, pendingHead_, pendingMethod_;
  // The upstream of the exchange in progress (-1: none), those tried for it, and whether
  // its connection came from the pool.
  int upstream_ = -1;
  std::vector<bool> tried_;
  bool reused_ = false, retried_ = false, retryable_ = false, answered_ = false;
  // The exchange in progress.
  bool exchanging_ = false, inRequest_ = false, responseStarted_ = false;
  bool chunkedRequest_ = false, toHead_ = false, client10_ = false, closeAfter_ = false;
  ClientFraming framing_ = ClientFraming::kNone;
  // Why the client is not read: the upstream is connecting, the request is sent and its
  // response not finished, or the upstream's queue is full.
  bool waitingOpen_ = false, waitingResponse_ = false, upstreamFull_ = false, paused_ = false;
  bool peerDone_ = false, closing_ = false, inOnData_ = false;
  bool clientFull_ = false;   // the client's queue is past high water: upstreams wait
  bool acceptsGzip_ = false;  // gzip is on and the request's Accept-Encoding admits it
  GzipStream gzip_;           // the response in progress, when it is compressed
  std::string compressed_;
  // The cache's part in the exchange: its key (empty: not cacheable), whether this exchange
  // fetches the key for others or waits for another's fetch, the stale entry being
  // revalidated, the response being stored while it fits, and the X-Cache it gets.
  std::string cacheKey_;
  bool fetching_ = false, waitingFetch_ = false, revalidate_ = false, swallow_ = false;
  uint64_t fetchToken_ = 0, waitSerial_ = 0;
  std::shared_ptr<const StoredResponse> stale_;
  std::shared_ptr<StoredResponse> filling_;
  const char* xCache_ = nullptr;
  Deadline upstreamDeadline_;  // nginx's proxy_read_timeout (armTimer)
  // A CONNECT's client end, from the moment its target is being opened; once that has
  // opened, every byte either way is relayed and HTTP is over for this connection.
  std::unique_ptr<RelayEnd> tunnel_;
  bool tunneling_ = false;
  AccessNote note_;
};

}  // namespace netlab::apps::proxy
