// A Transport around a real socket that misbehaves on purpose, for Stream tests: reads and
// writes that take 1..N bytes, calls that fail with EAGAIN or EINTR without doing anything, and
// a connection reset in the middle of the output. Header-only: CMake builds every
// cpp/tests/*_test.cc into one executable and nothing else.
#pragma once

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <random>

#include "netlab/io/fd.h"
#include "netlab/io/transport.h"

namespace netlab {

struct FaultPlan {
  /// Each read takes 1..maxReadChunk bytes; 0: as many as offered.
  size_t maxReadChunk = 0;
  /// Each write or sendfile takes 1..maxWriteChunk bytes; 0: as many as the socket takes.
  size_t maxWriteChunk = 0;
  /// Share of calls (reads, writes, sendfiles) that fail with EAGAIN, then with EINTR, having
  /// done nothing.
  int eagainPercent = 0;
  int eintrPercent = 0;
  /// Once this many bytes were written (writes and sendfiles together), the next output call
  /// fails with ECONNRESET; the call that reaches the mark is cut short there. -1: never.
  int64_t resetAfterBytes = -1;
  uint32_t seed = 1;
};

/// What a FaultTransport did, so a test can tell the faults were really exercised.
struct FaultStats {
  uint64_t reads = 0;
  uint64_t writes = 0;  // write and sendFile calls that moved bytes
  uint64_t shortReads = 0;
  uint64_t shortWrites = 0;
  uint64_t eagains = 0;
  uint64_t eintrs = 0;
  uint64_t resets = 0;
  int64_t bytesRead = 0;
  int64_t bytesWritten = 0;
  bool shutdown = false;
  bool closed = false;
};

class FaultTransport final : public Transport {
 public:
  FaultTransport(Fd fd, const FaultPlan& plan, FaultStats& stats)
      : fd_(std::move(fd)), plan_(plan), stats_(stats), rng_(plan.seed) {}

  int fd() const override { return fd_.get(); }

  ssize_t readv(const iovec* vec, int count) override {
    if (injectFault()) return -1;
    iovec cut[8];
    count = std::min(count, 8);
    size_t offered = 0;
    for (int i = 0; i < count; ++i) offered += vec[i].iov_len;
    size_t limit = pick(offered, plan_.maxReadChunk);
    int used = 0;
    for (int i = 0; i < count && limit > 0; ++i) {
      size_t take = std::min(vec[i].iov_len, limit);
      cut[used++] = {vec[i].iov_base, take};
      limit -= take;
    }
    ssize_t n = ::readv(fd_.get(), cut, used);
    if (n > 0) {
      ++stats_.reads;
      stats_.bytesRead += n;
      if (static_cast<size_t>(n) < offered) ++stats_.shortReads;
    }
    return n;
  }

  ssize_t write(const char* data, size_t n) override {
    size_t take = 0;
    if (!beginWrite(n, take)) return -1;
    ssize_t done = ::send(fd_.get(), data, take, MSG_NOSIGNAL);
    endWrite(n, done);
    return done;
  }

  ssize_t sendFile(int fileFd, off_t offset, size_t n) override {
    size_t take = 0;
    if (!beginWrite(n, take)) return -1;
    ssize_t done = ::sendfile(fd_.get(), fileFd, &offset, std::min(take, kMaxSendFileChunk));
    endWrite(n, done);
    return done;
  }

  int shutdownWrite() override {
    stats_.shutdown = true;
    return ::shutdown(fd_.get(), SHUT_WR);
  }

  void close() override {
    stats_.closed = true;
    fd_.reset();
  }

 private:
  // EAGAIN or EINTR instead of the call, as often as the plan says.
  bool injectFault() {
    int roll = static_cast<int>(rng_() % 100);
    if (roll < plan_.eagainPercent) {
      ++stats_.eagains;
      errno = EAGAIN;
      return true;
    }
    if (roll < plan_.eagainPercent + plan_.eintrPercent) {
      ++stats_.eintrs;
      errno = EINTR;
      return true;
    }
    return false;
  }

  // 1..max of the n bytes offered (all of them when max is 0).
  size_t pick(size_t n, size_t max) {
    if (max == 0 || n <= 1) return n;
    return std::min(n, 1 + static_cast<size_t>(rng_() % max));
  }

  // How much of an n-byte write to attempt, or false (errno set) for a fault instead.
  bool beginWrite(size_t n, size_t& take) {
    if (plan_.resetAfterBytes >= 0 && stats_.bytesWritten >= plan_.resetAfterBytes) {
      ++stats_.resets;
      errno = ECONNRESET;
      return false;
    }
    if (injectFault()) return false;
    take = pick(n, plan_.maxWriteChunk);
    if (plan_.resetAfterBytes >= 0) {
      take =
          std::min<size_t>(take, static_cast<size_t>(plan_.resetAfterBytes - stats_.bytesWritten));
    }
    return true;
  }

  void endWrite(size_t offered, ssize_t done) {
    if (done <= 0) return;
    ++stats_.writes;
    stats_.bytesWritten += done;
    if (static_cast<size_t>(done) < offered) ++stats_.shortWrites;
  }

  Fd fd_;
  FaultPlan plan_;
  FaultStats& stats_;
  std::mt19937 rng_;
};

}  // namespace netlab
