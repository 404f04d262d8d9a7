// TCP socket helpers in the spirit of Redis's anet.c: each returns a Result naming the failed call.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab {

/// Listening socket options; the backlog is capped by net.core.somaxconn anyway.
struct ListenOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int backlog = 4096;  // a "full backlog": the kernel clamps to somaxconn
  bool nonBlocking = true;
};

/// socket + SO_REUSEADDR + bind + listen. IPv4 and IPv6 literals and "localhost" work.
Result<Fd> listenTcp(const ListenOptions& options);

/// A resolved numeric address, so a client resolves once and connects many times.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
Result<Endpoint> resolveEndpoint(const std::string& host, uint16_t port);

/// Starts a non-blocking connect. `connected` tells whether it finished at once; otherwise
/// the fd becomes writable when it does, and SO_ERROR says how (see finishConnect).
Result<Fd> startConnect(const Endpoint& endpoint, bool& connected);
/// The connect's outcome once the fd is writable: 0 or an errno value.
int finishConnect(int fd);

/// Blocking connect with a timeout in milliseconds (negative: none); the fd is left blocking.
Result<Fd> connectTcp(const std::string& host, uint16_t port, int timeoutMs);

/// The port a bound socket actually got (for port 0).
Result<uint16_t> localPort(int fd);

/// "ip:port" of the peer, or "?" when unknown.
std::string peerName(int fd);
/// "1.2.3.4:5" or "[::1]:5" (peerName's form) without its port: "1.2.3.4", "::1".
std::string withoutPort(const std::string& peer);
/// The peer's IP address alone ("127.0.0.2", "::1"), or "?" when unknown.
std::string peerAddress(int fd);

Status setNonBlocking(int fd, bool on);
/// Best effort: Nagle's delay only costs latency, and a socket that refuses (not TCP) still works.
void setNoDelay(int fd);

/// sendfile(2) has no MSG_NOSIGNAL: SIGPIPE is ignored once, unless someone chose a disposition.
void ignoreSigpipeOnce();

}  // namespace netlab
