// A growable byte queue for one direction of one connection, in the style of muduo's Buffer.
//
//   +-------------------+------------------+------------------+
//   | prependable bytes |  readable bytes  |  writable bytes  |
//   +-------------------+------------------+------------------+
//   0      <=      readIndex_   <=   writeIndex_    <=     size()
//
// Prepend room lets a codec put a length header in front of a payload without copying it.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace netlab {

class Transport;

class Buffer {
 public:
  static constexpr size_t kPrepend = 8;  // muduo: room for a length header
  static constexpr size_t kInitialSize = 1024;
  static constexpr size_t kReadChunk = 65536;  // libuv/muduo: 64 KiB per read

  explicit Buffer(size_t initial = kInitialSize) : data_(kPrepend + initial) {}

  size_t readable() const { return writeIndex_ - readIndex_; }
  bool empty() const { return readable() == 0; }
  const char* peek() const { return data_.data() + readIndex_; }
  std::string_view view() const { return {peek(), readable()}; }
  size_t capacity() const { return data_.size(); }

  /// Drops n bytes from the front (all of them if n is larger).
  void consume(size_t n) {
    if (n >= readable()) {
      clear();
    } else {
      readIndex_ += n;
    }
  }
  void clear() { readIndex_ = writeIndex_ = kPrepend; }

  void append(const char* data, size_t n);
  void append(std::string_view s) { append(s.data(), s.size()); }
  /// Makes n bytes readable at the end and returns where to write them.
  char* appendSpace(size_t n) {
    makeRoom(n);
    char* at = begin() + writeIndex_;
    writeIndex_ += n;
    return at;
  }
  /// Puts bytes in front of the readable region; n must fit in the prepend room.
  void prepend(const char* data, size_t n);

  /// Index of the first `c` in the readable bytes, or npos.
  size_t find(char c, size_t from = 0) const;
  static constexpr size_t npos = static_cast<size_t>(-1);

  /// One read of at most `limit` bytes from fd: read(2) when the free space holds them, else
  /// readv(2) spilling into a 64 KiB stack buffer so an idle connection keeps a small heap
  /// buffer. Returns bytes read, 0 on EOF, -1 with errno.
  ssize_t readFrom(int fd, size_t limit = kReadChunk);
  ssize_t readFrom(Transport& transport, size_t limit = kReadChunk);
  /// One send(2) of the readable bytes (MSG_NOSIGNAL); consumes what the kernel took.
  ssize_t writeTo(int fd);
  ssize_t writeTo(Transport& transport);

  /// Gives memory back after a burst, so a quiet connection does not keep its peak size:
  /// an empty buffer with more room than kInitialSize and `to` is cut to `to` bytes of room.
  void shrinkIfIdle(size_t to = kInitialSize) {
    if (empty() && data_.size() > kPrepend + std::max(to, kInitialSize)) shrink(to);
  }
  /// Exchanges contents with `other` in O(1); each Buffer object stays where it is, so a
  /// pointer to one still names the same object.
  void swap(Buffer& other) noexcept {
    data_.swap(other.data_);
    std::swap(readIndex_, other.readIndex_);
    std::swap(writeIndex_, other.writeIndex_);
  }

 private:
  char* begin() { return data_.data(); }
  size_t writable() const { return data_.size() - writeIndex_; }
  // Inline for the common case, a buffer with room: every request and reply passes here.
  void makeRoom(size_t n) {
    if (writable() < n) slideOrGrow(n);
  }
  void slideOrGrow(size_t n);
  void shrink(size_t to);
  template <typename Read, typename ReadV>
  ssize_t readWith(Read read, ReadV readv, size_t limit);

  std::vector<char> data_;
  size_t readIndex_ = kPrepend;
  size_t writeIndex_ = kPrepend;
};

}  // namespace netlab
