// The seam between a Stream and the bytes' way out: a plain socket today; TLS or an io_uring
// submission queue can stand here later without a handler noticing. Readiness-driven: the
// Stream calls these when its poller reports the fd ready, and each call either completes at
// once or fails with EAGAIN (a completion-driven backend would finish them asynchronously).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <memory>

#include "netlab/io/fd.h"

namespace netlab {

class Transport {
 public:
  virtual ~Transport() = default;
  /// The fd the poller watches.
  virtual int fd() const = 0;
  /// readv(2): bytes read, 0 at end of stream, -1 with errno.
  virtual ssize_t readv(const iovec* vec, int count) = 0;
  /// read(2) into one buffer; the same as a readv of one vector, which costs the kernel a
  /// copy of the vector.
  virtual ssize_t read(char* data, size_t n) {
    iovec vec{data, n};
    return readv(&vec, 1);
  }
  /// One write of up to n bytes, never raising SIGPIPE: bytes taken, or -1 with errno.
  virtual ssize_t write(const char* data, size_t n) = 0;
  /// Holds partial segments back while a file is being sent (TCP_CORK), so the head before
  /// it and the end of each sendfile call leave in full segments; off pushes what is held.
  virtual void setCork(bool) {}
  /// Up to n bytes of `fileFd` from `offset`, without copying them through user space where
  /// the transport can (sendfile(2)); 0 means the file ended before offset.
  virtual ssize_t sendFile(int fileFd, off_t offset, size_t n) = 0;
  /// Half-close: the peer reads end of stream; reading goes on. 0, or -1 with errno.
  virtual int shutdownWrite() = 0;
  /// Closes the fd now.
  virtual void close() = 0;
  /// Whether a read shorter than asked means nothing more is waiting until the fd is reported
  /// readable again: true of a TCP socket (an urgent mark aside: the poller reports it), not
  /// of a transport that holds bytes of its own (TLS records, a test's deliberately short
  /// reads), nor of a Unix socket whose peer passes descriptors (a read stops after them). A
  /// Stream asks for edge-triggered readiness (poller.h's kEdge) only when it is.
  virtual bool shortReadDrains() const { return false; }
};

/// A connected socket, used as it is.
class SocketTransport final : public Transport {
 public:
  explicit SocketTransport(Fd fd) : fd_(std::move(fd)) {}
  int fd() const override { return fd_.get(); }
  ssize_t readv(const iovec* vec, int count) override;
  ssize_t read(char* data, size_t n) override;
  ssize_t write(const char* data, size_t n) override;
  void setCork(bool on) override;
  ssize_t sendFile(int fileFd, off_t offset, size_t n) override;
  int shutdownWrite() override;
  void close() override { fd_.reset(); }
  bool shortReadDrains() const override { return true; }

 private:
  Fd fd_;
};

/// sendfile(2) moves at most this much per call (nginx's sendfile_max_chunk). On loopback
/// the kernel would otherwise copy tens of MiB in one call while holding the socket, so the
/// reader waits, and one download would hold its loop for as long.
constexpr size_t kMaxSendFileChunk = 2 << 20;

}  // namespace netlab
