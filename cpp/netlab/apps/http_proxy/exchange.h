// The two handlers of one proxied client: ClientSide parses the client's requests and answers
// it; UpstreamSide parses the upstream's responses. Both run on the client connection's thread
// (the upstream connection is opened from it), so they reach each other through a Link of
// plain pointers that each side clears when it goes. One request is forwarded at a time;
// pipelined requests wait in the client's input, which stays bounded because reading pauses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "netlab/apps/http_proxy/proxy.h"
#include "netlab/apps/http_proxy/rewrite.h"
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
  UpstreamSide(std::shared_ptr<Link> link, netlab::http::Limits limits);
  void onOpen(Conn& conn) override;
  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onDrained(Conn& conn) override;
  void onHighWater(Conn& conn, size_t queued) override;
  void onClose(Conn& conn, const CloseReason& reason) override;
  void expectResponseTo(std::string_view method) { parser_.expectResponseTo(method); }

 private:
  bool current() const { return link_->upstream == this; }
  bool deliver(Conn& conn, const netlab::http::Event& e);

  std::shared_ptr<Link> link_;
  netlab::http::Parser parser_;
  bool opened_ = false;
};

class ClientSide final : public Handler {
 public:
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
  void responseEnd(bool upstreamCloses);
  void upstreamFailed(const CloseReason& reason, bool opened);
  void upstreamBackedUp(bool full);
  /// Lets go of the upstream connection (returned, to be closed by the caller).
  Conn* detachUpstream();

 private:
  size_t loop(Conn& conn, Buffer& input);
  void beginRequest();
  void forwardBody(std::string_view piece);
  void requestDone();
  void connectUpstream();
  void answerError(int status, std::string_view why, bool protocolError);
  void failParse();
  void armTimer();
  void onTimeout();
  void updateReading();
  void finishExchange();

  HttpProxyProtocol& protocol_;
  std::shared_ptr<Link> link_;
  netlab::http::Parser parser_;
  Conn* conn_ = nullptr;
  Buffer* input_ = nullptr;
  std::string ip_, scratch_, pendingHead_, pendingMethod_;
  std::string upstreamHost_, upstreamName_;  // the upstream this client's requests go to
  uint16_t upstreamPort_ = 0;
  // The exchange in progress.
  bool exchanging_ = false, inRequest_ = false, responseStarted_ = false;
  bool chunkedRequest_ = false, toHead_ = false, client10_ = false, closeAfter_ = false;
  ClientFraming framing_ = ClientFraming::kNone;
  // Why the client is not read: the upstream is connecting, the request is sent and its
  // response not finished, or the upstream's queue is full.
  bool waitingOpen_ = false, waitingResponse_ = false, upstreamFull_ = false, paused_ = false;
  bool peerDone_ = false, closing_ = false, inOnData_ = false;
  Conn::TimerHandle timer_ = 0;
  bool timerArmed_ = false;
};

}  // namespace netlab::apps::proxy
