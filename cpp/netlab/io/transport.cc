#include "netlab/io/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace netlab {

ssize_t SocketTransport::readv(const iovec* vec, int count) {
  return ::readv(fd_.get(), vec, count);
}

ssize_t SocketTransport::read(char* data, size_t n) { return ::read(fd_.get(), data, n); }

ssize_t SocketTransport::write(const char* data, size_t n) {
  return ::send(fd_.get(), data, n, MSG_NOSIGNAL);
}

// nginx's tcp_nopush. A failure (not a TCP socket) only costs the coalescing.
void SocketTransport::setCork(bool on) {
  int value = on ? 1 : 0;
  ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
}

ssize_t SocketTransport::sendFile(int fileFd, off_t offset, size_t n) {
  return ::sendfile(fd_.get(), fileFd, &offset, std::min(n, kMaxSendFileChunk));
}

int SocketTransport::shutdownWrite() { return ::shutdown(fd_.get(), SHUT_WR); }

}  // namespace netlab
