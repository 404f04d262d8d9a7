#include "netlab/io/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <csignal>
#include <cstring>
#include <mutex>

namespace netlab {
namespace {

std::string endpoint(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

// Numeric addresses only (plus "localhost"): netlab never resolves names over the network.
Result<sockaddr_storage> resolve(const std::string& host, uint16_t port, socklen_t* len) {
  std::string numeric = host == "localhost" ? "127.0.0.1" : host;
  if (numeric.empty() || numeric == "*") numeric = "0.0.0.0";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(numeric.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    return Error{EINVAL, "bad address '" + host + "': " + ::gai_strerror(rc) +
                             " (use a numeric IPv4/IPv6 address or localhost)"};
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, list->ai_addr, list->ai_addrlen);
  *len = list->ai_addrlen;
  ::freeaddrinfo(list);
  return addr;
}

}  // namespace

Result<Endpoint> resolveEndpoint(const std::string& host, uint16_t port) {
  Endpoint e;
  auto addr = resolve(host, port, &e.len);
  if (!addr.ok()) return addr.error();
  e.addr = addr.value();
  return e;
}

Result<Fd> startConnect(const Endpoint& e, bool& connected) {
  Fd fd(::socket(e.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return sysError("socket");
  connected = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&e.addr), e.len) == 0;
  if (!connected && errno != EINPROGRESS) return sysError("connect");
  return fd;
}

int finishConnect(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

Result<Fd> listenTcp(const ListenOptions& o) {
  socklen_t len = 0;
  auto addr = resolve(o.host, o.port, &len);
  if (!addr.ok()) return addr.error();
  int flags = SOCK_STREAM | SOCK_CLOEXEC | (o.nonBlocking ? SOCK_NONBLOCK : 0);
  Fd fd(::socket(addr.value().ss_family, flags, 0));
  if (!fd.valid()) return sysError("socket");
  int one = 1;
  // SO_REUSEADDR: a restarted server binds at once even with connections in TIME_WAIT.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    return sysError("setsockopt SO_REUSEADDR");
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr.value()), len) < 0) {
    return sysError("bind " + endpoint(o.host, o.port));
  }
  if (::listen(fd.get(), o.backlog) < 0) return sysError("listen " + endpoint(o.host, o.port));
  return fd;
}

Result<Fd> connectTcp(const std::string& host, uint16_t port, int timeoutMs) {
  socklen_t len = 0;
  auto addr = resolve(host, port, &len);
  if (!addr.ok()) return addr.error();
  Fd fd(::socket(addr.value().ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return sysError("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr.value()), len) < 0) {
    if (errno != EINPROGRESS) return sysError("connect " + endpoint(host, port));
    pollfd p{fd.get(), POLLOUT, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, timeoutMs);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return Error{ETIMEDOUT, "connect " + endpoint(host, port) + ": timed out"};
    if (rc < 0) return sysError("poll");
    int err = 0;
    socklen_t errLen = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &errLen);
    if (err != 0) {
      errno = err;
      return sysError("connect " + endpoint(host, port));
    }
  }
  Status blocking = setNonBlocking(fd.get(), false);
  if (!blocking.ok()) return blocking.error();
  return fd;
}

Result<uint16_t> localPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) {
    return sysError("getsockname");
  }
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

std::string peerName(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return "?";
  char ip[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    port = ntohs(a->sin6_port);
    return "[" + std::string(ip) + "]:" + std::to_string(port);
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&addr);
  ::inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
  port = ntohs(a->sin_port);
  return std::string(ip) + ":" + std::to_string(port);
}

std::string withoutPort(const std::string& peer) {
  size_t colon = peer.rfind(':');
  if (colon == std::string::npos) return peer;
  if (peer.front() == '[') return peer.substr(1, colon - 2);
  return peer.substr(0, colon);
}

std::string peerAddress(int fd) { return withoutPort(peerName(fd)); }

Status setNonBlocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return sysError("fcntl F_GETFL");
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, flags) < 0) return sysError("fcntl F_SETFL");
  return {};
}

// Small request/response protocols would otherwise wait on Nagle's algorithm for each reply.
void setNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// sendfile(2) has no MSG_NOSIGNAL: a peer that resets mid-file would kill the process with
// SIGPIPE. Ignored once, only if nobody chose a disposition (Python already ignores it; nginx
// and Redis do the same at start).
void ignoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current{};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace netlab
