#include "netlab/io/buffer.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "netlab/io/fd.h"

namespace netlab {
namespace {

struct SocketPair {
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
  Fd a, b;
};

TEST(Buffer, AppendConsumeAndFind) {
  Buffer buf;
  buf.append("hello\nworld");
  EXPECT_EQ(buf.readable(), 11u);
  EXPECT_EQ(buf.find('\n'), 5u);
  EXPECT_EQ(buf.find('\n', 6), Buffer::npos);
  buf.consume(6);
  EXPECT_EQ(buf.view(), "world");
  buf.consume(100);
  EXPECT_TRUE(buf.empty());
}

TEST(Buffer, GrowsPastInitialSizeAndKeepsBytes) {
  Buffer buf(16);
  std::string big(100000, 'x');
  big[99999] = '\0';
  buf.append(big);
  EXPECT_EQ(buf.view(), big);
}

TEST(Buffer, ReusesSpaceFreedAtTheFront) {
  Buffer buf(64);
  buf.append(std::string(60, 'a'));
  buf.consume(50);
  size_t before = buf.capacity();
  buf.append(std::string(40, 'b'));  // fits once the 10 live bytes slide to the front
  EXPECT_EQ(buf.capacity(), before);
  EXPECT_EQ(buf.view(), std::string(10, 'a') + std::string(40, 'b'));
}

TEST(Buffer, PrependWritesAHeaderWithoutMovingThePayload) {
  Buffer buf;
  buf.append("payload");
  const char header[4] = {0, 0, 0, 7};
  buf.prepend(header, 4);
  EXPECT_EQ(buf.readable(), 11u);
  EXPECT_EQ(std::string(buf.peek(), 4), std::string(header, 4));
}

TEST(Buffer, ReadFromSpillsIntoExtraSpaceAndRespectsLimit) {
  SocketPair p;
  std::string data(100000, 'z');
  ASSERT_EQ(::write(p.b.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  Buffer buf(16);
  ssize_t n = buf.readFrom(p.a.get(), 1000);
  EXPECT_EQ(n, 1000);
  EXPECT_EQ(buf.readable(), 1000u);
  size_t total = buf.readable();
  while ((n = buf.readFrom(p.a.get())) > 0) total += n;
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(total, data.size());
  EXPECT_EQ(buf.view(), data);
}

TEST(Buffer, ReadFromReportsEndOfStream) {
  SocketPair p;
  p.b.reset();
  Buffer buf;
  EXPECT_EQ(buf.readFrom(p.a.get()), 0);
}

TEST(Buffer, ZeroLimitIsNotMistakenForEndOfStream) {
  SocketPair p;
  Buffer buf;
  EXPECT_EQ(buf.readFrom(p.a.get(), 0), -1);
  EXPECT_EQ(errno, ENOBUFS);
}

TEST(Buffer, PartialWriteKeepsTheRest) {
  SocketPair p;
  int small = 4096;
  ::setsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  Buffer buf;
  std::string data(1 << 20, 'q');
  buf.append(data);
  ssize_t n = buf.writeTo(p.a.get());
  ASSERT_GT(n, 0);
  ASSERT_LT(static_cast<size_t>(n), data.size());  // the kernel took only part of it
  EXPECT_EQ(buf.readable(), data.size() - n);
  EXPECT_EQ(buf.writeTo(p.a.get()), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(Buffer, ShrinksWhenIdleAfterABurst) {
  Buffer buf;
  buf.append(std::string(1 << 20, 'b'));
  buf.consume(1 << 20);
  buf.shrinkIfIdle();
  EXPECT_LE(buf.capacity(), Buffer::kPrepend + Buffer::kInitialSize);
}

TEST(Buffer, ShrinksToNothingWhenAskedAndKeepsSmallOnes) {
  Buffer buf(0);
  buf.append(std::string(100, 'x'));
  buf.consume(100);
  buf.shrinkIfIdle(0);
  EXPECT_GE(buf.capacity(), Buffer::kPrepend + 100);  // small: kept for the next message
  buf.append(std::string(5000, 'y'));
  buf.consume(5000);
  buf.shrinkIfIdle(0);
  EXPECT_EQ(buf.capacity(), Buffer::kPrepend);
  buf.append("after");
  EXPECT_EQ(buf.view(), "after");
}

TEST(Buffer, SwapExchangesContentsAndPositions) {
  Buffer a(0), b(4096);
  a.append("partial");
  a.consume(3);
  b.append("other bytes");
  const Buffer* where = &a;
  a.swap(b);
  EXPECT_EQ(&a, where);
  EXPECT_EQ(a.view(), "other bytes");
  EXPECT_EQ(b.view(), "tial");
  EXPECT_GE(a.capacity(), Buffer::kPrepend + 4096);
  b.append("!");
  EXPECT_EQ(b.view(), "tial!");
}

}  // namespace
}  // namespace netlab
