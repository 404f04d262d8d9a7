#include "netlab/io/buffer.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "netlab/io/transport.h"

namespace netlab {

void Buffer::append(const char* data, size_t n) {
  if (n == 0) return;
  makeRoom(n);
  std::memcpy(begin() + writeIndex_, data, n);
  writeIndex_ += n;
}

void Buffer::prepend(const char* data, size_t n) {
  assert(n <= readIndex_);
  readIndex_ -= n;
  std::memcpy(begin() + readIndex_, data, n);
}

size_t Buffer::find(char c, size_t from) const {
  if (from >= readable()) return npos;
  const void* hit = std::memchr(peek() + from, c, readable() - from);
  return hit ? static_cast<const char*>(hit) - peek() : npos;
}

// Slides the readable bytes to the front when that frees enough room; grows otherwise.
void Buffer::slideOrGrow(size_t n) {
  size_t live = readable();
  if (writable() + readIndex_ - kPrepend >= n) {
    std::memmove(begin() + kPrepend, peek(), live);
  } else {
    std::vector<char> bigger(std::max(data_.size() * 2, kPrepend + live + n));
    std::memcpy(bigger.data() + kPrepend, peek(), live);
    data_.swap(bigger);
  }
  readIndex_ = kPrepend;
  writeIndex_ = kPrepend + live;
}

// One readv into the free space and a stack spill: an idle connection keeps a small heap
// buffer, and a burst still costs one call (muduo's Buffer::readFd).
template <typename Read, typename ReadV>
ssize_t Buffer::readWith(Read read, ReadV readv, size_t limit) {
  if (limit == 0) {  // a zero-length read would look like EOF to the caller
    errno = ENOBUFS;
    return -1;
  }
  size_t direct = std::min(writable(), limit);
  if (direct == limit) {  // room for all of it: one plain read
    ssize_t n = read(begin() + writeIndex_, direct);
    if (n > 0) writeIndex_ += n;
    return n;
  }
  char extra[kReadChunk];
  size_t spill = std::min(sizeof extra, limit - direct);
  iovec vec[2] = {{begin() + writeIndex_, direct}, {extra, spill}};
  int count = spill > 0 ? 2 : 1;
  ssize_t n = readv(vec, count);
  if (n <= 0) return n;
  if (static_cast<size_t>(n) <= direct) {
    writeIndex_ += n;
  } else {
    writeIndex_ += direct;
    append(extra, n - direct);
  }
  return n;
}

ssize_t Buffer::readFrom(int fd, size_t limit) {
  return readWith([fd](char* data, size_t n) { return ::read(fd, data, n); },
                  [fd](const iovec* vec, int count) { return ::readv(fd, vec, count); }, limit);
}

ssize_t Buffer::readFrom(Transport& transport, size_t limit) {
  return readWith([&transport](char* data, size_t n) { return transport.read(data, n); },
                  [&transport](const iovec* vec, int count) { return transport.readv(vec, count); },
                  limit);
}

ssize_t Buffer::writeTo(int fd) {
  ssize_t n = ::send(fd, peek(), readable(), MSG_NOSIGNAL);
  if (n > 0) consume(n);
  return n;
}

ssize_t Buffer::writeTo(Transport& transport) {
  ssize_t n = transport.write(peek(), readable());
  if (n > 0) consume(n);
  return n;
}

void Buffer::shrink(size_t to) {
  std::vector<char>(kPrepend + to).swap(data_);
  clear();
}

}  // namespace netlab
