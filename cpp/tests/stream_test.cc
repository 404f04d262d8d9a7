// Stream, its transport seam and Connector over real sockets: socketpair(2) and loopback TCP,
// on an EventLoop run on the test thread. Every test is a Script of steps the loop runs, with
// a watchdog timer that stops the loop, so a test that waits for something that never comes
// fails in a few seconds instead of hanging.
#include "netlab/io/stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "fault_transport.h"
#include "netlab/io/clock.h"
#include "netlab/io/connector.h"
#include "netlab/io/socket.h"

namespace netlab {
namespace {

constexpr int64_t kTickNs = kNsPerMs;
constexpr int64_t kWatchdogNs = 3 * kNsPerSec;
constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;

const char* const kBackends[] = {"epoll", "poll", "select"};

std::string backendName(const ::testing::TestParamInfo<const char*>& info) { return info.param; }

// Bytes that differ at every offset, so a lost, doubled or reordered chunk shows.
std::string pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Compares large byte strings without printing megabytes when they differ.
::testing::AssertionResult sameBytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  size_t at = 0;
  while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
  return ::testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size()
                                       << "; they differ from offset " << at;
}

// A sequence of steps the loop runs: each waits for its condition (checked every tick) or
// its delay, then acts. run() returns once every step ran, or fails when the watchdog fires.
class Script {
 public:
  explicit Script(EventLoop& loop) : loop_(loop) {}

  /// Waits until `ready` is true, then runs `action`. `ready` may act too (a pump that sends
  /// a chunk each tick until something happens).
  Script& when(std::string label, std::function<bool()> ready, std::function<void()> action = {}) {
    steps_.push_back({std::move(label), 0, std::move(ready), std::move(action)});
    return *this;
  }
  /// Waits `delayNs` from the end of the previous step, then runs `action`.
  Script& after(int64_t delayNs, std::function<void()> action) {
    steps_.push_back({"after " + std::to_string(delayNs / kNsPerMs) + " ms", delayNs, nullptr,
                      std::move(action)});
    return *this;
  }
  Script& then(std::function<void()> action) { return after(0, std::move(action)); }

  ::testing::AssertionResult run(int64_t limitNs = kWatchdogNs) {
    bool timedOut = false;
    int64_t start = nowNs();
    auto watchdog = loop_.runAt(start + limitNs, [&] {
      timedOut = true;
      loop_.stop();
    });
    stepStart_ = start;
    tick_ = loop_.runAt(start, [this] { tick(); });
    tickArmed_ = true;
    Status status = loop_.run();
    loop_.cancel(watchdog);
    if (tickArmed_) loop_.cancel(tick_);
    tickArmed_ = false;
    if (!status.ok()) return ::testing::AssertionFailure() << status.error().message;
    if (aborted_) {
      return ::testing::AssertionFailure() << "stopped after a fatal failure in step " << next_;
    }
    if (timedOut) {
      return ::testing::AssertionFailure()
             << "timed out after " << limitNs / kNsPerMs << " ms waiting for step " << next_ << " ("
             << steps_[next_].label << ")";
    }
    return ::testing::AssertionSuccess();
  }

 private:
  struct Step {
    std::string label;
    int64_t delayNs;
    std::function<bool()> ready;
    std::function<void()> action;
  };

  void tick() {
    tickArmed_ = false;
    while (next_ < steps_.size()) {
      Step& step = steps_[next_];
      if (nowNs() - stepStart_ < step.delayNs) break;
      if (step.ready && !step.ready()) break;
      std::function<void()> action = step.action;
      ++next_;
      stepStart_ = nowNs();
      if (action) action();
      if (::testing::Test::HasFatalFailure()) {
        aborted_ = true;
        loop_.stop();
        return;
      }
    }
    if (next_ == steps_.size()) {
      loop_.stop();
      return;
    }
    tick_ = loop_.runAt(nowNs() + kTickNs, [this] { tick(); });
    tickArmed_ = true;
  }

  EventLoop& loop_;
  std::vector<Step> steps_;
  size_t next_ = 0;
  int64_t stepStart_ = 0;
  bool aborted_ = false;
  bool tickArmed_ = false;
  TimerQueue::TimerId tick_{};
};

// What the stream told its owner. Every event checks that onStreamClose was the last one.
struct Events final : StreamEvents {
  std::string data;              // every byte read, unless onData takes over
  std::vector<std::string> log;  // "eof", "drained", "high", "low", "close", in order
  int eofs = 0, drains = 0, highs = 0, lows = 0, closes = 0;
  size_t highQueued = 0;
  bool readingAtDrain = true;
  CloseReason reason;
  bool keepOpenOnEof = false;  // true: onStreamEof does nothing (the stream stays half-open)
  std::function<void(Stream&, Buffer&)> onData;
  std::function<void(Stream&)> onEof;
  std::function<void(Stream&)> onDrained;

  void onStreamData(Stream& stream, Buffer& input) override {
    EXPECT_EQ(closes, 0) << "onStreamData after onStreamClose";
    if (onData) {
      onData(stream, input);
      return;
    }
    data.append(input.view());
    input.consume(input.readable());
  }
  void onStreamEof(Stream& stream) override {
    EXPECT_EQ(closes, 0) << "onStreamEof after onStreamClose";
    ++eofs;
    log.push_back("eof");
    if (onEof) {
      onEof(stream);
    } else if (!keepOpenOnEof) {
      StreamEvents::onStreamEof(stream);
    }
  }
  void onStreamDrained(Stream& stream) override {
    EXPECT_EQ(closes, 0) << "onStreamDrained after onStreamClose";
    ++drains;
    log.push_back("drained");
    readingAtDrain = stream.reading();
    if (onDrained) onDrained(stream);
  }
  void onStreamHighWater(Stream&, size_t queued) override {
    EXPECT_EQ(closes, 0) << "onStreamHighWater after onStreamClose";
    ++highs;
    highQueued = queued;
    log.push_back("high");
  }
  void onStreamLowWater(Stream&) override {
    EXPECT_EQ(closes, 0) << "onStreamLowWater after onStreamClose";
    ++lows;
    log.push_back("low");
  }
  void onStreamClose(Stream& stream, const CloseReason& why) override {
    EXPECT_EQ(closes, 0) << "onStreamClose twice";
    EXPECT_FALSE(stream.isOpen());
    ++closes;
    reason = why;
    log.push_back("close");
  }
};

// The other end of a stream's socket, on the same loop: reads everything it is sent (or a
// few bytes per tick, or nothing), writes what it is given and can half-close.
class Peer final : public IoWatcher {
 public:
  Peer(EventLoop& loop, Fd fd) : loop_(loop), fd_(std::move(fd)) {
    EXPECT_TRUE(loop_.watch(fd_.get(), 0, this).ok());
    watched_ = true;
    update();
  }
  ~Peer() override {
    if (slowArmed_) loop_.cancel(slowTimer_);
    if (watched_) loop_.unwatch(fd_.get());
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  int fd() const { return fd_.get(); }
  void setReading(bool on) {
    reading_ = on;
    update();
  }
  /// Reads `bytes` every `periodNs` instead of whenever something arrives.
  void readSlowly(size_t bytes, int64_t periodNs) {
    reading_ = false;
    update();
    slowBytes_ = bytes;
    slowPeriodNs_ = periodNs;
    armSlow();
  }
  void send(std::string_view data) {
    out_.append(data);
    flush();
  }
  /// shutdown(SHUT_WR) once everything given to send() is written.
  void shutdownWrite() {
    shutdownPending_ = true;
    flush();
  }
  void close() {
    if (watched_) loop_.unwatch(fd_.get());
    watched_ = false;
    fd_.reset();
  }

  std::string received;
  bool eof = false;
  int readError = 0;
  int writeError = 0;

  void onReady(uint32_t ready) override {
    if ((ready & kWritable) && !out_.empty()) flush();
    if ((ready & kReadable) && reading_) readSome(256 * kKiB);
  }

 private:
  void readSome(size_t limit) {
    char buf[64 * kKiB];
    while (limit > 0 && !eof && readError == 0 && fd_.valid()) {
      ssize_t n = ::read(fd_.get(), buf, std::min(limit, sizeof buf));
      if (n > 0) {
        received.append(buf, static_cast<size_t>(n));
        limit -= static_cast<size_t>(n);
      } else if (n == 0) {
        eof = true;
      } else if (errno != EINTR) {
        if (errno != EAGAIN) readError = errno;
        break;
      }
    }
    update();
  }

  void armSlow() {
    slowTimer_ = loop_.runAt(nowNs() + slowPeriodNs_, [this] {
      slowArmed_ = false;
      readSome(slowBytes_);
      if (!eof && readError == 0) armSlow();
    });
    slowArmed_ = true;
  }

  void flush() {
    while (fd_.valid() && written_ < out_.size()) {
      ssize_t n = ::send(fd_.get(), out_.data() + written_, out_.size() - written_, MSG_NOSIGNAL);
      if (n > 0) {
        written_ += static_cast<size_t>(n);
      } else if (errno != EINTR) {
        if (errno != EAGAIN) writeError = errno;
        break;
      }
    }
    if (written_ == out_.size()) {
      out_.clear();
      written_ = 0;
      if (shutdownPending_ && fd_.valid()) {
        shutdownPending_ = false;
        EXPECT_EQ(::shutdown(fd_.get(), SHUT_WR), 0);
      }
    }
    update();
  }

  void update() {
    if (!watched_) return;
    uint32_t want = 0;
    if (reading_ && !eof && readError == 0) want |= kReadable;
    if (!out_.empty() && writeError == 0) want |= kWritable;
    if (want == interest_) return;
    interest_ = want;
    EXPECT_TRUE(loop_.rewatch(fd_.get(), want, this).ok());
  }

  EventLoop& loop_;
  Fd fd_;
  bool watched_ = false;
  uint32_t interest_ = ~0u;
  bool reading_ = true;
  std::string out_;
  size_t written_ = 0;
  bool shutdownPending_ = false;
  size_t slowBytes_ = 0;
  int64_t slowPeriodNs_ = 0;
  bool slowArmed_ = false;
  TimerQueue::TimerId slowTimer_{};
};

struct SocketPair {
  Fd local;   // the stream's end
  Fd remote;  // the peer's end
};

SocketPair unixPair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {Fd(fds[0]), Fd(fds[1])};
}

// A connected loopback TCP pair. bufferBytes > 0 pins the stream's send buffer and the peer's
// receive buffer to about that size (no autotuning), so megabytes cannot hide in the kernel.
SocketPair tcpPair(int bufferBytes = 0) {
  ListenOptions options;
  options.nonBlocking = false;
  auto listener = listenTcp(options);
  EXPECT_TRUE(listener.ok());
  auto port = localPort(listener.value().get());
  EXPECT_TRUE(port.ok());
  auto client = connectTcp("127.0.0.1", port.value(), 1000);
  EXPECT_TRUE(client.ok());
  EXPECT_TRUE(setNonBlocking(client.value().get(), true).ok());
  Fd accepted(::accept4(listener.value().get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  EXPECT_TRUE(accepted.valid());
  SocketPair pair{std::move(accepted), std::move(client.value())};
  if (bufferBytes > 0) {
    EXPECT_EQ(::setsockopt(pair.local.get(), SOL_SOCKET, SO_SNDBUF, &bufferBytes, sizeof(int)), 0);
    EXPECT_EQ(::setsockopt(pair.remote.get(), SOL_SOCKET, SO_RCVBUF, &bufferBytes, sizeof(int)), 0);
  }
  return pair;
}

// An unlinked temporary file holding `content`.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string path = ::testing::TempDir() + "netlab_stream_test_XXXXXX";
    fd_.reset(::mkstemp(path.data()));
    EXPECT_TRUE(fd_.valid()) << "mkstemp " << path << ": " << std::strerror(errno);
    ::unlink(path.c_str());
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::write(fd_.get(), content.data() + done, content.size() - done);
      if (n <= 0) {
        ADD_FAILURE() << "write: " << std::strerror(errno);
        break;
      }
      done += static_cast<size_t>(n);
    }
  }
  int fd() const { return fd_.get(); }
  void closeFd() { fd_.reset(); }

 private:
  Fd fd_;
};

class StreamTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    // Peers here close early on purpose; a write to them must fail, not kill the process.
    ::signal(SIGPIPE, SIG_IGN);
    auto created = EventLoop::create(GetParam());
    ASSERT_TRUE(created.ok()) << created.error().message;
    loop = std::move(created.value());
  }

  std::unique_ptr<Stream> makeStream(Fd fd, Events& events,
                                     const StreamOptions& options = Stream::defaultOptions()) {
    return started(std::make_unique<Stream>(*loop, std::move(fd), options, events));
  }
  std::unique_ptr<Stream> makeStream(std::unique_ptr<Transport> transport, Events& events,
                                     const StreamOptions& options = Stream::defaultOptions()) {
    return started(std::make_unique<Stream>(*loop, std::move(transport), options, events));
  }
  static std::unique_ptr<Stream> started(std::unique_ptr<Stream> stream) {
    Status status = stream->start();
    EXPECT_TRUE(status.ok()) << (status.ok() ? "" : status.error().message);
    return stream;
  }

  std::unique_ptr<EventLoop> loop;
};

// --- Backpressure -------------------------------------------------------------------------

// A peer that does not read: the kernel takes what it can, the rest queues in the stream and
// grows; high water is reported once and pauses reading; once the peer reads, low water and
// drained are reported and reading resumes (with what the peer sent meanwhile).
TEST_P(StreamTest, BackpressurePausesReadingUntilThePeerReads) {
  StreamOptions options;
  options.highWater = 256 * kKiB;
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);

  const std::string chunk = pattern(32 * kKiB, 7);
  std::string sent;
  std::vector<size_t> queuedSamples;
  int drainsAtHigh = 0;  // while the socket still took everything, each flush drained
  Script script(*loop);
  script
      .when(
          "high water (sending 32 KiB a tick to a peer that does not read)",
          [&] {
            queuedSamples.push_back(stream->queued());
            if (ev.highs > 0) return true;
            EXPECT_TRUE(stream->send(chunk));
            sent += chunk;
            return false;
          },
          [&] {
            EXPECT_EQ(ev.highs, 1);
            EXPECT_GE(ev.highQueued, options.highWater);
            EXPECT_GE(stream->queued(), options.highWater);
            EXPECT_LT(stream->queued(), sent.size()) << "the kernel took nothing";
            EXPECT_FALSE(stream->reading());
            drainsAtHigh = ev.drains;
            // More output while above the mark is not reported again.
            EXPECT_TRUE(stream->send(chunk));
            EXPECT_TRUE(stream->send(chunk));
            sent += chunk + chunk;
            peer.send("ping");
          })
      .after(50 * kNsPerMs,
             [&] {
               EXPECT_EQ(ev.highs, 1);
               EXPECT_EQ(ev.data, "") << "read while paused above high water";
               EXPECT_FALSE(stream->reading());
               EXPECT_EQ(ev.lows, 0);
               EXPECT_EQ(ev.drains, drainsAtHigh);
               peer.setReading(true);
             })
      .when(
          "low water, drained and the peer's ping",
          [&] { return ev.lows == 1 && ev.drains > drainsAtHigh && ev.data == "ping"; },
          [&] {
            EXPECT_TRUE(stream->reading());
            EXPECT_EQ(stream->queued(), 0u);
            EXPECT_EQ(ev.highs, 1);
          })
      .when("the peer has everything", [&] { return peer.received.size() >= sent.size(); });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(sameBytes(peer.received, sent));
  EXPECT_EQ(ev.closes, 0);
  // queued() grew while the socket was full: non-decreasing from the first non-zero sample,
  // and larger at the end.
  auto firstFull =
      std::find_if(queuedSamples.begin(), queuedSamples.end(), [](size_t q) { return q > 0; });
  ASSERT_NE(firstFull, queuedSamples.end());
  EXPECT_TRUE(std::is_sorted(firstFull, queuedSamples.end()));
  EXPECT_GT(queuedSamples.back(), *firstFull);
}

// A slow reader takes the queue down a little at a time: low water (at half the mark) comes
// before drained.
TEST_P(StreamTest, SlowReaderSeesLowWaterBeforeDrained) {
  StreamOptions options;
  options.highWater = 256 * kKiB;
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string payload = pattern(1 * kMiB, 8);
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send(payload));
        EXPECT_EQ(ev.highs, 1);  // reported from send() itself: 1 MiB is over the mark
        peer.readSlowly(16 * kKiB, kNsPerMs);
      })
      .when("drained", [&] { return ev.drains > 0; })
      .when("the peer has everything", [&] { return peer.received.size() >= payload.size(); });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(sameBytes(peer.received, payload));
  EXPECT_EQ(ev.log, (std::vector<std::string>{"high", "low", "drained"}));
  EXPECT_TRUE(stream->reading());
}

// A peer that frees its whole receive buffer at once lets one write take the queue from
// above half the mark straight to empty. The owner should still hear low water first (the
// order the slow reader gets): in onStreamDrained the stream is already empty.
TEST_P(StreamTest, FastReaderSeesLowWaterBeforeDrained) {
  StreamOptions options;
  options.highWater = 64 * kKiB;
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string chunk = pattern(16 * kKiB, 9);
  std::string sent;
  Script script(*loop);
  script
      .when(
          "high water",
          [&] {
            if (ev.highs > 0) return true;
            EXPECT_TRUE(stream->send(chunk));
            sent += chunk;
            return false;
          },
          [&] { peer.setReading(true); })
      .when("low water", [&] { return ev.lows > 0; })
      .when("the peer has everything", [&] { return peer.received.size() >= sent.size(); });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(sameBytes(peer.received, sent));
  // Each flush drained the queue while the socket still took everything; what counts is the
  // order from the crossing on.
  auto high = std::find(ev.log.begin(), ev.log.end(), "high");
  ASSERT_NE(high, ev.log.end());
  EXPECT_EQ(std::vector<std::string>(high, ev.log.end()),
            (std::vector<std::string>{"high", "low", "drained"}));
  EXPECT_TRUE(ev.readingAtDrain);
}

// The owner's own pause: nothing is read while it is off, nothing is lost, and it is separate
// from the high-water pause.
TEST_P(StreamTest, SetReadingPausesAndResumes) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->reading());
        stream->setReading(false);
        EXPECT_FALSE(stream->reading());
        peer.send("abc");
      })
      .after(30 * kNsPerMs,
             [&] {
               EXPECT_EQ(ev.data, "");
               peer.send("def");
               stream->setReading(false);  // twice is harmless
             })
      .after(20 * kNsPerMs,
             [&] {
               EXPECT_EQ(ev.data, "");
               stream->setReading(true);
               EXPECT_TRUE(stream->reading());
             })
      .when(
          "both sends read", [&] { return ev.data == "abcdef"; },
          [&] {
            // Pausing from inside onStreamData works too.
            ev.onData = [&](Stream& s, Buffer& in) {
              ev.data.append(in.view());
              in.consume(in.readable());
              s.setReading(false);
            };
            peer.send("g");
          })
      .when(
          "g read", [&] { return ev.data == "abcdefg"; },
          [&] {
            EXPECT_FALSE(stream->reading());
            peer.send("h");
          })
      .after(30 * kNsPerMs, [&] {
        EXPECT_EQ(ev.data, "abcdefg");
        EXPECT_EQ(ev.closes, 0);
      });
  ASSERT_TRUE(script.run());
}

// Reads go through the loop's one read buffer while a stream holds no partial input: what a
// handler leaves unconsumed must stay with its own stream, whole and in order, however the
// streams' reads interleave, and the Buffer a handler is given must be the stream's own
// object every time (handlers keep a pointer to it between calls).
TEST_P(StreamTest, PartialInputStaysWithItsStreamAcrossSharedReads) {
  Events evA, evB;
  std::vector<std::string> linesA, linesB;
  Buffer* seenA = nullptr;
  Buffer* seenB = nullptr;
  auto lines = [](std::vector<std::string>& out, Buffer*& seen) {
    return [&out, &seen](Stream& s, Buffer& in) {
      EXPECT_EQ(&s.input(), &in);
      if (!seen) seen = &in;
      EXPECT_EQ(seen, &in);
      for (size_t end; (end = in.find('\n')) != Buffer::npos;) {
        out.emplace_back(in.peek(), end);
        in.consume(end + 1);
      }
    };
  };
  evA.onData = lines(linesA, seenA);
  evB.onData = lines(linesB, seenB);
  SocketPair pairA = unixPair(), pairB = unixPair();
  auto a = makeStream(std::move(pairA.local), evA);
  auto b = makeStream(std::move(pairB.local), evB);
  Peer peerA(*loop, std::move(pairA.remote)), peerB(*loop, std::move(pairB.remote));
  Script script(*loop);
  script
      .then([&] {  // both empty: both read through the loop's buffer
        peerA.send("ab");
        peerB.send("xy");
      })
      .when(
          "both partials kept",
          [&] { return a->input().view() == "ab" && b->input().view() == "xy"; },
          [&] {
            EXPECT_EQ(seenA, &a->input());
            EXPECT_EQ(seenB, &b->input());
            peerB.send("z\nuv");  // b holds "xy": read into its own buffer
            peerA.send("c\n");    // the same for a, which ends up empty
          })
      .when(
          "both lines read", [&] { return linesA.size() == 1 && linesB.size() == 1; },
          [&] {
            EXPECT_EQ(linesA[0], "abc");
            EXPECT_EQ(linesB[0], "xyz");
            EXPECT_TRUE(a->input().empty());
            EXPECT_EQ(b->input().view(), "uv");
            // a is empty again, so this read is through the loop's buffer: closing from the
            // callback empties the handler's input at once, and nothing is kept after it.
            evA.onData = [&](Stream& s, Buffer& in) {
              EXPECT_EQ(&in, seenA);
              EXPECT_EQ(in.view(), "e\nf");
              s.closeAfterFlush({CloseKind::kLocalClose, 0, "done"});
              EXPECT_TRUE(in.empty());
            };
            peerB.send("w\n");
            peerA.send("e\nf");
          })
      .when(
          "b's second line read", [&] { return linesB.size() == 2; },
          [&] {
            EXPECT_EQ(linesB[1], "uvw");
            EXPECT_TRUE(b->input().empty());
          })
      .when(
          "a's peer sees the end", [&] { return peerA.eof; }, [&] { peerA.close(); })
      .when("a closed", [&] { return evA.closes == 1; }, [&] { EXPECT_TRUE(a->input().empty()); });
  ASSERT_TRUE(script.run());
}

// Replies made inside the read callback go out through the loop's one write buffer, lent to
// each stream in turn (stream.h). Three streams on one loop answer a request with bytes, a
// file range and more bytes while their peers are not reading: one reply's unwritten rest is
// copied back into its stream, one is too large to copy and keeps the buffer it is in, one is
// written whole. A send after the callback and the reply to a second request follow. Each
// peer must get exactly its own bytes, in order.
TEST_P(StreamTest, RepliesFromTheReadCallbackKeepTheirOrderWhenTheSocketTakesPart) {
  const std::string content = pattern(256 * kKiB, 18);
  TempFile file(content);
  struct Side {
    size_t replyBytes;
    uint32_t seed;
    Events ev;
    std::unique_ptr<Stream> stream;
    std::unique_ptr<Peer> peer;
    std::string want;
    int requests = 0;
  };
  Side sides[3] = {{60 * kKiB, 20}, {1 * kMiB, 21}, {100, 22}};
  StreamOptions options;
  options.highWater = 8 * kMiB;  // reading goes on: the second request comes in meanwhile
  for (Side& side : sides) {
    // A Unix socket with a small send buffer takes a few KiB a write, and unlike TCP with a
    // small window, moves the rest promptly once the peer reads.
    SocketPair pair = unixPair();
    int sendBuffer = 8 * kKiB;
    ASSERT_EQ(::setsockopt(pair.local.get(), SOL_SOCKET, SO_SNDBUF, &sendBuffer, sizeof sendBuffer),
              0);
    const std::string head = pattern(side.replyBytes, side.seed);
    const std::string tail = pattern(1000, side.seed + 10);
    const std::string second = "second reply " + std::to_string(side.seed);
    side.want = head + content.substr(side.seed * 1000, 50000) + tail + "after" + second;
    side.ev.onData = [&file, &side, head, tail, second](Stream& s, Buffer& in) {
      in.consume(in.readable());
      if (++side.requests == 1) {
        EXPECT_TRUE(s.send(head));
        EXPECT_TRUE(s.sendFile(file.fd(), side.seed * 1000, 50000));
        EXPECT_TRUE(s.send(tail));
      } else {
        EXPECT_TRUE(s.send(second));
      }
    };
    side.stream = makeStream(std::move(pair.local), side.ev, options);
    side.peer = std::make_unique<Peer>(*loop, std::move(pair.remote));
    side.peer->setReading(false);
  }
  auto all = [&](auto test) { return std::all_of(std::begin(sides), std::end(sides), test); };
  Script script(*loop);
  script
      .then([&] {
        for (Side& side : sides) side.peer->send("go\n");
      })
      .when(
          "every first request answered",
          [&] { return all([](const Side& side) { return side.requests == 1; }); },
          [&] {
            EXPECT_GT(sides[0].stream->queued(), 0u);
            EXPECT_GT(sides[1].stream->queued(), 64 * kKiB);
            for (Side& side : sides) {
              EXPECT_TRUE(side.stream->send("after"));
              side.peer->send("again\n");
            }
          })
      .when(
          "every second request answered",
          [&] { return all([](const Side& side) { return side.requests == 2; }); },
          [&] {
            for (Side& side : sides) side.peer->setReading(true);
          })
      .when("every peer has its bytes", [&] {
        return all([](const Side& side) { return side.peer->received.size() >= side.want.size(); });
      });
  ASSERT_TRUE(script.run());
  for (Side& side : sides) {
    EXPECT_TRUE(sameBytes(side.peer->received, side.want)) << side.replyBytes << "-byte reply";
    EXPECT_EQ(side.ev.closes, 0);
  }
}

// --- Half-close and closing ------------------------------------------------------------------

// shutdownWrite with output queued: the peer gets every byte, then EOF; meanwhile the stream
// goes on reading; when the peer finishes too, the stream closes as kPeerClosed.
TEST_P(StreamTest, ShutdownWriteFlushesThenHalfClosesAndKeepsReading) {
  StreamOptions options;
  options.highWater = 16 * kMiB;  // no high-water pause in this test
  Events ev;
  ev.keepOpenOnEof = true;  // the default would close after the peer's EOF by itself
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string payload = pattern(1 * kMiB, 10);
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send(payload));
        stream->shutdownWrite();
        EXPECT_TRUE(stream->writeShut());
        EXPECT_FALSE(stream->send("late")) << "send after shutdownWrite";
        EXPECT_TRUE(stream->isOpen());
        peer.send("hello");
      })
      .when(
          "the stream reads while its output still waits", [&] { return ev.data == "hello"; },
          [&] {
            EXPECT_GT(stream->queued(), 0u);
            EXPECT_FALSE(peer.eof);
            peer.setReading(true);
          })
      .when(
          "the peer reads EOF", [&] { return peer.eof; },
          [&] {
            EXPECT_TRUE(sameBytes(peer.received, payload));
            EXPECT_TRUE(stream->isOpen());
            EXPECT_TRUE(stream->reading());
            EXPECT_EQ(ev.drains, 1);
            peer.send(" world");
          })
      .when(
          "more read after the half-close", [&] { return ev.data == "hello world"; },
          [&] {
            EXPECT_TRUE(stream->isOpen());
            peer.shutdownWrite();
          })
      .when("closed", [&] { return ev.closes == 1; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kPeerClosed) << ev.reason.text();
  EXPECT_EQ(ev.eofs, 1);
  EXPECT_EQ(ev.log, (std::vector<std::string>{"drained", "eof", "close"}));
}

// The other order: the peer finishes first, the stream answers and then shuts its side.
TEST_P(StreamTest, PeerEofThenShutdownWriteClosesAsPeerClosed) {
  Events ev;
  ev.keepOpenOnEof = true;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  Script script(*loop);
  script
      .then([&] {
        peer.send("request");
        peer.shutdownWrite();
      })
      .when(
          "EOF", [&] { return ev.eofs == 1; },
          [&] {
            EXPECT_EQ(ev.data, "request");
            EXPECT_TRUE(stream->readEof());
            EXPECT_FALSE(stream->reading());
            EXPECT_TRUE(stream->isOpen());
            EXPECT_TRUE(stream->send("reply"));
            stream->shutdownWrite();
          })
      .when("closed and the peer has its EOF", [&] { return ev.closes == 1 && peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kPeerClosed) << ev.reason.text();
  EXPECT_EQ(peer.received, "reply");
}

// The default onStreamEof: what is queued is still written, then the stream closes.
TEST_P(StreamTest, DefaultEofClosesAfterQueuedOutputIsWritten) {
  StreamOptions options;
  options.highWater = 16 * kMiB;
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string payload = pattern(1 * kMiB, 11);
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send(payload));
        peer.shutdownWrite();
      })
      .when(
          "EOF", [&] { return ev.eofs == 1; },
          [&] {
            EXPECT_TRUE(stream->closing());
            EXPECT_EQ(ev.closes, 0);
            peer.setReading(true);
          })
      .when("closed and the peer has its EOF", [&] { return ev.closes == 1 && peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kPeerClosed);
  EXPECT_TRUE(sameBytes(peer.received, payload));
}

// closeAfterFlush: reading stops at once, everything queued is delivered, then the stream
// closes with the reason it was given.
TEST_P(StreamTest, CloseAfterFlushDeliversEverythingThenCloses) {
  StreamOptions options;
  options.highWater = 16 * kMiB;
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string payload = pattern(2 * kMiB, 12);
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send(payload));
        stream->closeAfterFlush({CloseKind::kLocalClose, 0, "bye"});
        EXPECT_TRUE(stream->isOpen());
        EXPECT_TRUE(stream->closing());
        EXPECT_FALSE(stream->reading());
        stream->closeAfterFlush({CloseKind::kServerStopping, 0, "again"});  // the first wins
        peer.readSlowly(128 * kKiB, kNsPerMs);
      })
      .when("the peer reads EOF", [&] { return peer.eof; })
      // A lingering close: the stream half-closed and waits for the peer's FIN.
      .then([&] {
        EXPECT_TRUE(stream->isOpen());
        peer.close();
      })
      .when("the stream closes", [&] { return ev.closes == 1; });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(sameBytes(peer.received, payload));
  EXPECT_EQ(ev.closes, 1);
  EXPECT_EQ(ev.reason.kind, CloseKind::kLocalClose);
  EXPECT_EQ(ev.reason.detail, "bye");
  EXPECT_FALSE(stream->isOpen());
  EXPECT_FALSE(stream->send("x"));
}

// The same when the peer keeps sending after closeAfterFlush (a request the server refuses
// and answers with an error page, say), over TCP with small buffers so the last part of the
// answer is still in the kernel when the stream's queue empties.
TEST_P(StreamTest, CloseAfterFlushDeliversEverythingEvenWithUnreadInput) {
  StreamOptions options;
  options.highWater = 16 * kMiB;
  Events ev;
  SocketPair pair = tcpPair(64 * kKiB);
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string payload = pattern(2 * kMiB, 27);
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send(payload));
        stream->closeAfterFlush({CloseKind::kProtocolError, 0, "refused"});
        peer.send("more input the stream will never read");
        peer.readSlowly(128 * kKiB, kNsPerMs);
      })
      .when("the peer reads EOF or an error", [&] { return peer.eof || peer.readError != 0; })
      .then([&] { peer.close(); })
      .when("the stream closes", [&] { return ev.closes == 1; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kProtocolError);
  EXPECT_EQ(ev.data, "");
  EXPECT_EQ(peer.readError, 0) << std::strerror(peer.readError);
  EXPECT_TRUE(sameBytes(peer.received, payload));
}

TEST_P(StreamTest, CloseDropsQueuedOutputAndTellsTheOwnerOnce) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send("dropped"));  // the flush is deferred to the end of the turn
        stream->close({CloseKind::kProtocolError, 0, "bad input"});
        EXPECT_FALSE(stream->isOpen());
        EXPECT_EQ(stream->queued(), 0u);
        stream->close({CloseKind::kLocalClose, 0, "again"});  // no second onStreamClose
        stream->shutdownWrite();
        stream->closeAfterFlush({});
        EXPECT_FALSE(stream->send("x"));
        EXPECT_EQ(stream->runAfter(kNsPerMs, [] {}), 0u);
      })
      .when("the peer reads EOF", [&] { return peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(peer.received, "");
  EXPECT_EQ(ev.closes, 1);
  EXPECT_EQ(ev.reason.kind, CloseKind::kProtocolError);
}

// --- Slow consumers -------------------------------------------------------------------------

TEST_P(StreamTest, MaxQueuedOutputClosesASlowConsumer) {
  StreamOptions options;
  options.maxQueuedOutput = 256 * kKiB;
  options.highWater = 16 * kMiB;
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string chunk = pattern(64 * kKiB, 13);
  size_t accepted = 0;
  bool refused = false;
  Script script(*loop);
  script.when("send() refuses", [&] {
    if (stream->send(chunk)) {
      accepted += chunk.size();
      return false;
    }
    refused = true;
    return true;
  });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(refused);
  EXPECT_EQ(ev.closes, 1);
  EXPECT_EQ(ev.reason.kind, CloseKind::kSlowConsumer) << ev.reason.text();
  EXPECT_NE(ev.reason.detail.find("262144"), std::string::npos) << ev.reason.detail;
  EXPECT_FALSE(stream->isOpen());
  EXPECT_FALSE(stream->send("x"));
  // The bound counts only what the kernel would not take.
  EXPECT_GT(accepted, options.maxQueuedOutput);
}

// send()'s own bound applies to that call alone.
TEST_P(StreamTest, PerCallBoundClosesASlowConsumer) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string big = pattern(4 * kMiB, 14);
  Script script(*loop);
  script.then([&] {
    EXPECT_TRUE(stream->send("small", 1));  // within the bound once the kernel takes it
    EXPECT_FALSE(stream->send(big, 1 * kMiB));
  });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.closes, 1);
  EXPECT_EQ(ev.reason.kind, CloseKind::kSlowConsumer) << ev.reason.text();
}

// A peer that stopped reading is told apart from one that is merely behind.
TEST_P(StreamTest, StalledForMeasuresTimeWithoutProgress) {
  StreamOptions options;
  options.highWater = 16 * kMiB;
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string payload = pattern(2 * kMiB, 15);
  Script script(*loop);
  script
      .then([&] {
        EXPECT_FALSE(stream->stalledFor(0));  // nothing queued
        EXPECT_TRUE(stream->send(payload));
      })
      .after(5 * kNsPerMs, [&] { EXPECT_FALSE(stream->stalledFor(500 * kNsPerMs)); })
      .after(50 * kNsPerMs,
             [&] {
               EXPECT_TRUE(stream->stalledFor(30 * kNsPerMs));
               peer.setReading(true);
             })
      .when("the peer has everything", [&] { return peer.received.size() == payload.size(); });
  ASSERT_TRUE(script.run());
  EXPECT_FALSE(stream->stalledFor(0));
}

// --- sendFile -------------------------------------------------------------------------------

// Bytes, a file range and bytes again arrive in order; the stream keeps its own duplicate of
// the file descriptor, so the caller may close its own at once.
TEST_P(StreamTest, SendFileRangeArrivesIntactBetweenBytes) {
  const std::string content = pattern(1 * kMiB, 16);
  TempFile file(content);
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  const std::string want = "<" + content.substr(12345, 300000) + "|" + content.substr(0, 10) + ">";
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send("<"));
        EXPECT_TRUE(stream->sendFile(file.fd(), 12345, 300000));
        EXPECT_TRUE(stream->send("|"));
        EXPECT_TRUE(stream->sendFile(file.fd(), 0, 10));
        EXPECT_TRUE(stream->send(">"));
        EXPECT_TRUE(stream->sendFile(file.fd(), 5, 0));  // empty: nothing to do
        EXPECT_FALSE(stream->sendFile(file.fd(), -1, 10));
        EXPECT_FALSE(stream->sendFile(file.fd(), 0, -1));
        EXPECT_EQ(stream->queued(), want.size());
        file.closeFd();
      })
      .when("drained", [&] { return ev.drains > 0; })
      .when("the peer has everything", [&] { return peer.received.size() >= want.size(); });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(sameBytes(peer.received, want));
  EXPECT_EQ(ev.closes, 0);
}

// 8 MiB over loopback TCP with 64 KiB socket buffers, to a peer that reads 128 KiB a
// millisecond: the range goes out a socketful at a time as the peer makes room.
TEST_P(StreamTest, SendFileLargerThanTheSocketBufferToASlowReader) {
  const std::string content = pattern(8 * kMiB, 17);
  TempFile file(content);
  StreamOptions options;
  options.highWater = 64 * kMiB;
  std::atomic<uint64_t> bytesOut{0};
  options.bytesOut = &bytesOut;
  Events ev;
  SocketPair pair = tcpPair(64 * kKiB);
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.readSlowly(128 * kKiB, kNsPerMs);
  size_t queuedMidway = 0;
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->sendFile(file.fd(), 0, static_cast<int64_t>(content.size())));
        stream->closeAfterFlush({CloseKind::kLocalClose, 0, "sent"});
      })
      .after(10 * kNsPerMs, [&] { queuedMidway = stream->queued(); })
      .when("the peer reads EOF", [&] { return peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_GT(queuedMidway, 0u) << "the whole file fit in the socket buffers";
  EXPECT_LT(queuedMidway, content.size());
  EXPECT_TRUE(sameBytes(peer.received, content));
  EXPECT_EQ(ev.reason.kind, CloseKind::kLocalClose) << ev.reason.text();
  EXPECT_EQ(bytesOut.load(), content.size());
}

// A range that runs past the end of the file: what exists is sent, then an I/O error.
TEST_P(StreamTest, SendFileRangePastTheEndClosesWithIoError) {
  const std::string content = pattern(10000, 18);
  TempFile file(content);
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  Script script(*loop);
  script.then([&] { EXPECT_TRUE(stream->sendFile(file.fd(), 5000, 10000)); })
      .when("closed and the peer has its EOF", [&] { return ev.closes == 1 && peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kIoError) << ev.reason.text();
  EXPECT_TRUE(sameBytes(peer.received, content.substr(5000)));
}

TEST_P(StreamTest, SendFileRangeStartingPastTheEndClosesWithIoError) {
  TempFile file(pattern(100, 19));
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  Script script(*loop);
  script.then([&] { EXPECT_TRUE(stream->sendFile(file.fd(), 200, 1)); }).when("closed", [&] {
    return ev.closes == 1;
  });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kIoError) << ev.reason.text();
  EXPECT_EQ(peer.received, "");
}

// The file shrinks while its range is being sent: the stream sends up to the new end, then
// closes with an I/O error instead of waiting for bytes that will never come.
TEST_P(StreamTest, SendFileOfAFileTruncatedMidwayClosesWithIoError) {
  const std::string content = pattern(8 * kMiB, 20);
  TempFile file(content);
  StreamOptions options;
  options.highWater = 64 * kMiB;
  Events ev;
  SocketPair pair = tcpPair(64 * kKiB);
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  size_t truncatedTo = 0;
  Script script(*loop);
  script.then([&] { EXPECT_TRUE(stream->sendFile(file.fd(), 0, static_cast<int64_t>(8 * kMiB))); })
      .after(20 * kNsPerMs,
             [&] {
               size_t sent = content.size() - stream->queued();
               ASSERT_GT(sent, 0u);
               ASSERT_LT(sent, 4 * kMiB);
               truncatedTo = sent + 1 * kMiB;
               ASSERT_EQ(::ftruncate(file.fd(), static_cast<off_t>(truncatedTo)), 0);
               peer.setReading(true);
             })
      .when("closed and the peer has its EOF", [&] { return ev.closes == 1 && peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kIoError) << ev.reason.text();
  EXPECT_TRUE(sameBytes(peer.received, content.substr(0, truncatedTo)));
}

// --- Timers ---------------------------------------------------------------------------------

TEST_P(StreamTest, RunAfterFiresAndCancelTimerCancels) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  int64_t start = 0, firedAt = 0;
  bool cancelledRan = false;
  Stream::TimerHandle fired = 0, cancelled = 0;
  Script script(*loop);
  script
      .then([&] {
        start = nowNs();
        fired = stream->runAfter(10 * kNsPerMs, [&] {
          EXPECT_TRUE(loop->inLoopThread());
          firedAt = nowNs();
        });
        cancelled = stream->runAfter(5 * kNsPerMs, [&] { cancelledRan = true; });
        EXPECT_NE(fired, 0u);
        EXPECT_NE(cancelled, fired);
        EXPECT_TRUE(stream->cancelTimer(cancelled));
        EXPECT_FALSE(stream->cancelTimer(cancelled));
        EXPECT_FALSE(stream->cancelTimer(987654));
      })
      .when(
          "the timer fired", [&] { return firedAt != 0; },
          [&] {
            EXPECT_GE(firedAt - start, 10 * kNsPerMs);
            EXPECT_FALSE(stream->cancelTimer(fired)) << "a fired timer is no longer pending";
          })
      .after(20 * kNsPerMs, [&] { EXPECT_FALSE(cancelledRan); });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(stream->isOpen());
}

// A timer may close its own stream; the stream's other timers then never run.
TEST_P(StreamTest, TimersAreCancelledWhenTheStreamCloses) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  bool lateRan = false;
  Script script(*loop);
  script
      .then([&] {
        stream->runAfter(30 * kNsPerMs, [&] { lateRan = true; });
        stream->runAfter(5 * kNsPerMs,
                         [&] { stream->close({CloseKind::kLocalClose, 0, "timer"}); });
      })
      .when(
          "closed", [&] { return ev.closes == 1; },
          [&] { EXPECT_EQ(stream->runAfter(kNsPerMs, [&] { lateRan = true; }), 0u); })
      .after(50 * kNsPerMs, [&] { EXPECT_FALSE(lateRan); });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.detail, "timer");
}

// Closed by the peer going away rather than by the owner: the same.
TEST_P(StreamTest, TimersAreCancelledWhenThePeerClosesTheStream) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  bool ran = false;
  Script script(*loop);
  script
      .then([&] {
        stream->runAfter(30 * kNsPerMs, [&] { ran = true; });
        peer.close();
      })
      .when("closed", [&] { return ev.closes == 1; })
      .after(50 * kNsPerMs, [&] { EXPECT_FALSE(ran); });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kPeerClosed) << ev.reason.text();
}

// Destroying an open stream cancels its timers and its deferred flush without telling the
// owner anything.
TEST_P(StreamTest, DestroyingAnOpenStreamCancelsItsTimersAndPendingFlush) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  bool ran = false;
  Script script(*loop);
  script
      .then([&] {
        stream->runAfter(5 * kNsPerMs, [&] { ran = true; });
        EXPECT_TRUE(stream->send("never flushed"));  // the write waits for the end of the turn
        stream.reset();
      })
      .when("the peer reads EOF", [&] { return peer.eof; })
      .after(20 * kNsPerMs, [&] { EXPECT_FALSE(ran); });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(peer.received, "");
  EXPECT_EQ(ev.closes, 0);
}

// A timer may hold the last reference to a stream when its loop is destroyed (a server's
// pacing timer at stop()). The stream's destructor, or its close, cancels what it queued in
// the loop's queues; they must all still be there, whatever order the loop keeps them in.
TEST_P(StreamTest, ALoopDestroyedWithTimersHoldingStreamsWithQueuedFlushes) {
  Events openEvents, closedEvents;
  SocketPair a = unixPair(), b = unixPair();
  std::shared_ptr<Stream> open = makeStream(std::move(a.local), openEvents);
  std::shared_ptr<Stream> closed = makeStream(std::move(b.local), closedEvents);
  EXPECT_TRUE(open->send("queued for the end of the turn"));
  EXPECT_TRUE(closed->send("dropped by the close"));
  closed->close({CloseKind::kLocalClose, 0, "closed with a flush queued"});
  loop->runAt(nowNs() + kNsPerSec, [held = open] {});
  loop->runAt(nowNs() + kNsPerSec, [held = closed] {});
  open.reset();
  closed.reset();
  loop.reset();  // ASan reports a write to a freed queue here if either is touched too late
  EXPECT_EQ(closedEvents.closes, 1);
  char byte;
  EXPECT_EQ(::read(a.remote.get(), &byte, 1), 0) << "the open stream's socket was not closed";
}

// --- Threads --------------------------------------------------------------------------------

// Work posted from another thread runs on the loop's thread, where it may use the stream.
// The loop-thread rule is checked, not only documented: a Stream used from another thread
// aborts with the reason (this build defines NETLAB_CHECK_LOOP_THREAD).
TEST_P(StreamTest, UseOffTheLoopThreadAborts) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  EXPECT_DEATH(
      {
        std::thread other([&] { stream->send("from the wrong thread"); });
        other.join();
      },
      "a Stream used off its loop's thread");
}

TEST_P(StreamTest, PostFromAnotherThreadRunsOnTheLoopThread) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  const std::thread::id loopThread = std::this_thread::get_id();
  constexpr int kPosts = 100;
  std::string want;
  for (int i = 0; i < kPosts; ++i) want += "message " + std::to_string(i) + "\n";
  int ranOnLoopThread = 0;
  std::atomic<int> refused{0};
  std::thread worker;
  Script script(*loop);
  script
      .then([&] {
        worker = std::thread([&] {
          for (int i = 0; i < kPosts; ++i) {
            bool posted = loop->post([&, i] {
              if (std::this_thread::get_id() == loopThread && loop->inLoopThread()) {
                ++ranOnLoopThread;
              }
              stream->send("message " + std::to_string(i) + "\n");
            });
            if (!posted) ++refused;
          }
        });
      })
      .when("the peer has every message", [&] { return peer.received.size() >= want.size(); });
  bool ok = script.run();
  if (worker.joinable()) worker.join();
  ASSERT_TRUE(ok);
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(ranOnLoopThread, kPosts);
  EXPECT_EQ(peer.received, want);
}

// --- Idle timeout ---------------------------------------------------------------------------

TEST_P(StreamTest, IdleTimeoutClosesAQuietStream) {
  StreamOptions options;
  options.idleTimeoutNs = 50 * kNsPerMs;
  Events ev;
  SocketPair pair = unixPair();
  int64_t start = nowNs();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  int64_t closedAt = 0;
  Script script(*loop);
  script.when("closed", [&] { return ev.closes == 1; }, [&] { closedAt = nowNs(); });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kIdleTimeout) << ev.reason.text();
  EXPECT_GE(closedAt - start, 50 * kNsPerMs);
  EXPECT_LT(closedAt - start, 1 * kNsPerSec);
}

// Reads keep it open; the timeout counts from the last one.
TEST_P(StreamTest, IdleTimeoutCountsFromTheLastActivity) {
  StreamOptions options;
  options.idleTimeoutNs = 100 * kNsPerMs;
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  int64_t lastSend = 0;
  int sends = 0;
  Script script(*loop);
  script
      .when(
          "eight sends 20 ms apart (160 ms, longer than the timeout)",
          [&] {
            if (ev.closes > 0) return true;
            if (nowNs() - lastSend < 20 * kNsPerMs) return false;
            if (sends == 8) return true;
            peer.send("x");
            lastSend = nowNs();
            ++sends;
            return false;
          },
          [&] {
            EXPECT_EQ(ev.closes, 0) << "closed while the peer was active";
            EXPECT_EQ(ev.data, "xxxxxxxx");
          })
      .when("closed", [&] { return ev.closes == 1; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kIdleTimeout) << ev.reason.text();
  EXPECT_GE(nowNs() - lastSend, 100 * kNsPerMs);
}

// --- Hang-ups while paused ------------------------------------------------------------------

// The owner paused reading with bytes unread and the peer then went away: on a socketpair
// that is a hang-up (POLLHUP), which epoll and poll report whatever the interest. The stream
// must not turn the loop into a busy loop while it waits for its owner to resume.
TEST_P(StreamTest, PausedStreamDoesNotSpinOnAHungUpPeer) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  uint64_t waitsBefore = 0;
  Script script(*loop);
  script
      .then([&] {
        stream->setReading(false);
        peer.send("unread");
        peer.close();
      })
      .after(5 * kNsPerMs, [&] { waitsBefore = loop->waits(); })
      .after(50 * kNsPerMs,
             [&] {
               // About one wait per 1 ms script tick; a spinning loop does thousands.
               EXPECT_LT(loop->waits() - waitsBefore, 500u);
               EXPECT_EQ(ev.closes, 0);
               stream->setReading(true);
             })
      .when("closed", [&] { return ev.closes == 1; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.data, "unread");
  EXPECT_EQ(ev.reason.kind, CloseKind::kPeerClosed) << ev.reason.text();
}

// Pausing leaves the socket registered until the poller first reports it (updateInterest):
// input that arrives while paused must then end the reports, not make the loop spin on it.
TEST_P(StreamTest, PausedStreamDoesNotSpinOnUnreadInput) {
  Events ev;
  SocketPair pair = unixPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  uint64_t waitsBefore = 0;
  Script script(*loop);
  script
      .then([&] {
        stream->setReading(false);
        stream->setReading(true);
        stream->setReading(false);  // a resume and a pause with nothing between
        peer.send("waiting");
      })
      .after(5 * kNsPerMs, [&] { waitsBefore = loop->waits(); })
      .after(50 * kNsPerMs,
             [&] {
               EXPECT_LT(loop->waits() - waitsBefore, 500u);
               EXPECT_EQ(ev.data, "");
               stream->setReading(true);
             })
      .when("read after resuming", [&] { return ev.data == "waiting"; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.closes, 0);
}

// --- Edge-triggered reading ----------------------------------------------------------------
// Under epoll a stream over a socket registers for edges (poller.h's kEdge): the kernel tells
// it once per arrival, so every test here has the peer's bytes arrive before the stream
// reads and nothing arrive after, and the stream must carry on by itself. poll and select
// are level-triggered and run the same tests.

// Writes all of `data` to a blocking-enough socket before the loop runs.
void writeAllNow(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    ASSERT_GT(n, 0) << std::strerror(errno);
    done += static_cast<size_t>(n);
  }
}

// More input than one read takes, all in the socket at once: the rest is read on the
// following turns without another arrival to report it.
TEST_P(StreamTest, InputOfManyReadsArrivingAtOnceIsAllRead) {
  StreamOptions options;
  options.readChunk = 4 * kKiB;
  Events ev;
  SocketPair pair = unixPair();
  const std::string payload = pattern(100 * kKiB, 31);
  writeAllNow(pair.remote.get(), payload);
  auto stream = makeStream(std::move(pair.local), ev, options);
  Script script(*loop);
  script.when("all read", [&] { return ev.data.size() == payload.size(); });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(ev.data == payload);
  EXPECT_EQ(ev.closes, 0);
}

// Bytes and the peer's end of stream in one arrival: the read that takes the bytes is short,
// yet the end of stream is still to be read (EPOLLRDHUP says so), and must be.
TEST_P(StreamTest, BytesAndEndOfStreamArrivingTogetherAreBothSeen) {
  Events ev;
  SocketPair pair = tcpPair();
  writeAllNow(pair.remote.get(), "last words");
  ASSERT_EQ(::shutdown(pair.remote.get(), SHUT_WR), 0);
  ::usleep(2000);  // both on the stream's side of loopback before it first reads
  auto stream = makeStream(std::move(pair.local), ev);
  Script script(*loop);
  script.when("closed", [&] { return ev.closes == 1; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.data, "last words");
  EXPECT_EQ(ev.eofs, 1);
  EXPECT_EQ(ev.reason.kind, CloseKind::kPeerClosed) << ev.reason.text();
}

// Bytes and then a reset, both there before the first read: the bytes are handed over and
// the reset closes the stream, rather than the stream waiting for a report that never comes.
TEST_P(StreamTest, BytesThenResetAreReadThenClose) {
  Events ev;
  SocketPair pair = tcpPair();
  writeAllNow(pair.remote.get(), "then gone");
  linger abort{1, 0};  // close(2) sends RST
  ASSERT_EQ(::setsockopt(pair.remote.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort), 0);
  pair.remote.reset();
  ::usleep(2000);
  auto stream = makeStream(std::move(pair.local), ev);
  Script script(*loop);
  script.when("closed", [&] { return ev.closes == 1; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.data, "then gone");
  EXPECT_EQ(ev.reason.kind, CloseKind::kReset) << ev.reason.text();
}

// "before", an urgent byte and "after", all in the socket before the stream's first read.
void sendAroundAnUrgentByte(int fd) {
  writeAllNow(fd, "before");
  ASSERT_EQ(::send(fd, "!", 1, MSG_OOB), 1);
  writeAllNow(fd, "after");
  ::usleep(2000);
}

// Urgent data between ordinary bytes, all there before the first read: TCP's read stops short
// at the urgent mark, with the bytes after it still in the socket (epoll reports EPOLLPRI).
// The urgent byte itself is not inline, so it is not read.
TEST_P(StreamTest, BytesAfterAnUrgentMarkAreRead) {
  Events ev;
  SocketPair pair = tcpPair();
  ASSERT_NO_FATAL_FAILURE(sendAroundAnUrgentByte(pair.remote.get()));
  auto stream = makeStream(std::move(pair.local), ev);
  Script script(*loop);
  script.when("all read", [&] { return ev.data.size() >= 11; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.data, "beforeafter");
  EXPECT_EQ(ev.closes, 0);
}

// Past an urgent mark the stream reads until the socket is empty, and then no longer: each
// later arrival costs one read, not a second that finds nothing.
TEST_P(StreamTest, AfterAnUrgentMarkLaterArrivalsCostOneReadEach) {
  std::atomic<uint64_t> reads{0};
  StreamOptions options;
  options.reads = &reads;
  Events ev;
  SocketPair pair = tcpPair();
  ASSERT_NO_FATAL_FAILURE(sendAroundAnUrgentByte(pair.remote.get()));
  auto stream = makeStream(std::move(pair.local), ev, options);
  uint64_t settled = 0;
  std::string expected = "beforeafter";
  Script script(*loop);
  script.when("urgent episode read", [&] { return ev.data == expected; });
  script.after(20 * kNsPerMs, [&] { settled = reads.load(); });
  for (const char* chunk : {"one", "two", "three"}) {
    script
        .after(0,
               [&, chunk] {
                 expected += chunk;
                 writeAllNow(pair.remote.get(), chunk);
               })
        .when("chunk read", [&] { return ev.data == expected; })
        .after(20 * kNsPerMs, [] {});
  }
  ASSERT_TRUE(script.run());
  EXPECT_EQ(reads.load() - settled, 3u);
  EXPECT_EQ(ev.closes, 0);
}

// Reading paused from the first callback with more input in the socket, then resumed: no new
// arrival reports the rest, yet it is read.
TEST_P(StreamTest, ResumingReadsInputLeftInTheSocketWhilePaused) {
  StreamOptions options;
  options.readChunk = 4 * kKiB;
  Events ev;
  SocketPair pair = unixPair();
  const std::string payload = pattern(64 * kKiB, 32);
  writeAllNow(pair.remote.get(), payload);
  ev.onData = [&](Stream& s, Buffer& in) {
    ev.data.append(in.view());
    in.consume(in.readable());
    if (ev.data.size() == 4 * kKiB) s.setReading(false);
  };
  auto stream = makeStream(std::move(pair.local), ev, options);
  Script script(*loop);
  script
      .after(30 * kNsPerMs,
             [&] {
               EXPECT_EQ(ev.data.size(), 4 * kKiB);
               stream->setReading(true);
             })
      .when("all read", [&] { return ev.data.size() == payload.size(); });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(ev.data == payload);
}

// --- A misbehaving transport ----------------------------------------------------------------

// An echo stream whose transport reads and writes 1..N bytes at a time and fails calls with
// EAGAIN and EINTR: every byte still comes back, in order, and the peer's EOF closes the
// stream as kPeerClosed once the echo is written.
TEST_P(StreamTest, FaultyTransportKeepsDataIntactUnderShortIoAndEagainEintr) {
  FaultPlan plan;
  plan.maxReadChunk = 1500;
  plan.maxWriteChunk = 1000;
  plan.eagainPercent = 10;
  plan.eintrPercent = 10;
  plan.seed = 42;
  FaultStats stats;
  StreamOptions options;
  std::atomic<uint64_t> bytesIn{0}, bytesOut{0};
  options.bytesIn = &bytesIn;
  options.bytesOut = &bytesOut;
  Events ev;
  ev.onData = [](Stream& stream, Buffer& input) {
    EXPECT_TRUE(stream.send(input.view()));
    input.consume(input.readable());
  };
  SocketPair pair = unixPair();
  auto stream =
      makeStream(std::make_unique<FaultTransport>(std::move(pair.local), plan, stats), ev, options);
  Peer peer(*loop, std::move(pair.remote));
  const std::string payload = pattern(512 * kKiB, 21);
  Script script(*loop);
  script
      .then([&] {
        peer.send(payload);
        peer.shutdownWrite();
      })
      .when("closed and the peer has its EOF", [&] { return ev.closes == 1 && peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(sameBytes(peer.received, payload));
  EXPECT_EQ(ev.reason.kind, CloseKind::kPeerClosed) << ev.reason.text();
  EXPECT_EQ(bytesIn.load(), payload.size());
  EXPECT_EQ(bytesOut.load(), payload.size());
  EXPECT_GT(stats.shortReads, 0u);
  EXPECT_GT(stats.shortWrites, 0u);
  EXPECT_GT(stats.eagains, 0u);
  EXPECT_GT(stats.eintrs, 0u);
  EXPECT_TRUE(stats.closed);
}

// The same faults with a handler that consumes only whole 64-byte records, so almost every
// short read leaves a partial record behind: the bytes kept between reads (copied out of the
// loop's read buffer, or read after them) must come back whole and in order.
TEST_P(StreamTest, FaultyTransportKeepsPartialRecordsIntact) {
  FaultPlan plan;
  plan.maxReadChunk = 1500;
  plan.eagainPercent = 10;
  plan.eintrPercent = 10;
  plan.seed = 7;
  FaultStats stats;
  Events ev;
  constexpr size_t kRecord = 64;
  size_t kept = 0;  // reads that ended with a partial record
  ev.onData = [&](Stream& stream, Buffer& input) {
    while (input.readable() >= kRecord) {
      EXPECT_TRUE(stream.send(input.view().substr(0, kRecord)));
      input.consume(kRecord);
    }
    if (!input.empty()) ++kept;
  };
  SocketPair pair = unixPair();
  auto stream =
      makeStream(std::make_unique<FaultTransport>(std::move(pair.local), plan, stats), ev);
  Peer peer(*loop, std::move(pair.remote));
  const std::string payload = pattern(512 * kKiB, 22);  // a whole number of records
  Script script(*loop);
  script
      .then([&] {
        peer.send(payload);
        peer.shutdownWrite();
      })
      .when("closed and the peer has its EOF", [&] { return ev.closes == 1 && peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(sameBytes(peer.received, payload));
  EXPECT_GT(kept, 10u);
  EXPECT_GT(stats.shortReads, 0u);
  EXPECT_GT(stats.eagains, 0u);
}

// The same faults on the file path: bytes and file ranges interleaved, sendfile taking a few
// bytes at a time.
TEST_P(StreamTest, FaultyTransportKeepsFileRangesIntact) {
  const std::string content = pattern(256 * kKiB, 22);
  TempFile file(content);
  FaultPlan plan;
  plan.maxWriteChunk = 4000;
  plan.eagainPercent = 15;
  plan.eintrPercent = 15;
  plan.seed = 7;
  FaultStats stats;
  Events ev;
  SocketPair pair = unixPair();
  auto stream =
      makeStream(std::make_unique<FaultTransport>(std::move(pair.local), plan, stats), ev);
  Peer peer(*loop, std::move(pair.remote));
  const std::string want =
      "head" + content.substr(100, 200000) + "middle" + content.substr(0, 50000) + "tail";
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send("head"));
        EXPECT_TRUE(stream->sendFile(file.fd(), 100, 200000));
        EXPECT_TRUE(stream->send("middle"));
        EXPECT_TRUE(stream->sendFile(file.fd(), 0, 50000));
        EXPECT_TRUE(stream->send("tail"));
        stream->closeAfterFlush({CloseKind::kLocalClose, 0, "done"});
      })
      .when("the peer reads EOF", [&] { return peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_TRUE(sameBytes(peer.received, want));
  EXPECT_EQ(ev.reason.kind, CloseKind::kLocalClose) << ev.reason.text();
  EXPECT_GT(stats.shortWrites, 0u);
  EXPECT_GT(stats.eagains + stats.eintrs, 0u);
}

// A reset in the middle of the output closes the stream as kReset, having written exactly
// the bytes before it.
TEST_P(StreamTest, ResetMidWriteClosesWithReset) {
  FaultPlan plan;
  plan.maxWriteChunk = 3000;
  plan.resetAfterBytes = 10000;
  FaultStats stats;
  Events ev;
  SocketPair pair = unixPair();
  auto stream =
      makeStream(std::make_unique<FaultTransport>(std::move(pair.local), plan, stats), ev);
  Peer peer(*loop, std::move(pair.remote));
  const std::string payload = pattern(100000, 23);
  Script script(*loop);
  script.then([&] { EXPECT_TRUE(stream->send(payload)); })
      .when("closed and the peer has its EOF", [&] { return ev.closes == 1 && peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kReset) << ev.reason.text();
  EXPECT_EQ(ev.reason.err, ECONNRESET);
  EXPECT_EQ(stats.resets, 1u);
  EXPECT_TRUE(sameBytes(peer.received, payload.substr(0, 10000)));
  EXPECT_EQ(ev.drains, 0);
}

TEST_P(StreamTest, ResetMidSendFileClosesWithReset) {
  const std::string content = pattern(100000, 24);
  TempFile file(content);
  FaultPlan plan;
  plan.maxWriteChunk = 3000;
  plan.resetAfterBytes = 20000;
  FaultStats stats;
  Events ev;
  SocketPair pair = unixPair();
  auto stream =
      makeStream(std::make_unique<FaultTransport>(std::move(pair.local), plan, stats), ev);
  Peer peer(*loop, std::move(pair.remote));
  Script script(*loop);
  script.then([&] { EXPECT_TRUE(stream->sendFile(file.fd(), 0, 100000)); })
      .when("closed and the peer has its EOF", [&] { return ev.closes == 1 && peer.eof; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kReset) << ev.reason.text();
  EXPECT_TRUE(sameBytes(peer.received, content.substr(0, 20000)));
}

// The real thing: a peer that closes with unread data gets the kernel to reset the
// connection, and the stream's next write reports it.
TEST_P(StreamTest, RealPeerResetClosesWithReset) {
  Events ev;
  SocketPair pair = tcpPair();
  auto stream = makeStream(std::move(pair.local), ev);
  Peer peer(*loop, std::move(pair.remote));
  peer.setReading(false);
  const std::string chunk = pattern(64 * kKiB, 25);
  Script script(*loop);
  script
      .then([&] {
        EXPECT_TRUE(stream->send("unread by the peer"));
        linger abort{1, 0};  // close(2) sends RST
        EXPECT_EQ(::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort), 0);
      })
      .after(10 * kNsPerMs, [&] { peer.close(); })
      .when("closed", [&] {
        if (ev.closes == 1) return true;
        stream->send(chunk);
        return false;
      });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.reason.kind, CloseKind::kReset) << ev.reason.text();
}

// --- Options -----------------------------------------------------------------------------

// A stream points at its owner's options rather than holding a copy (a cache line fewer per
// request at a thousand connections), so a temporary would dangle: it does not compile.
static_assert(!std::is_constructible_v<Stream, EventLoop&, Fd, StreamOptions, StreamEvents&>);
static_assert(std::is_constructible_v<Stream, EventLoop&, Fd, const StreamOptions&, StreamEvents&>);

TEST_P(StreamTest, StreamsShareTheirOwnersOptions) {
  std::atomic<uint64_t> bytesIn{0};
  StreamOptions options;
  options.bytesIn = &bytesIn;
  Events evA, evB;
  SocketPair pairA = unixPair(), pairB = unixPair();
  auto a = makeStream(std::move(pairA.local), evA, options);
  auto b = makeStream(std::move(pairB.local), evB, options);
  EXPECT_EQ(&a->options(), &options);
  EXPECT_EQ(&b->options(), &options);
  ASSERT_EQ(::write(pairA.remote.get(), "abc", 3), 3);
  ASSERT_EQ(::write(pairB.remote.get(), "de", 2), 2);
  Script script(*loop);
  script.when("both read", [&] { return evA.data.size() == 3 && evB.data.size() == 2; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(bytesIn.load(), 5u);
}

// A send outside the read callback is written at the end of the loop's iteration. A stream
// destroyed before then takes that write with it (nothing runs on the dead stream), and
// another stream's deferred write in the same iteration still goes out.
TEST_P(StreamTest, AStreamDestroyedWithItsWriteDeferredTakesTheWriteWithIt) {
  Events evA, evB;
  SocketPair pairA = unixPair(), pairB = unixPair();
  auto a = makeStream(std::move(pairA.local), evA);
  auto b = makeStream(std::move(pairB.local), evB);
  Peer peerB(*loop, std::move(pairB.remote));
  loop->post([&] {
    EXPECT_TRUE(a->send("never written"));
    EXPECT_TRUE(b->send("written"));
    a.reset();
  });
  Script script(*loop);
  script.when("b's bytes arrive", [&] { return peerB.received == "written"; });
  ASSERT_TRUE(script.run());
  char byte;
  EXPECT_EQ(::recv(pairA.remote.get(), &byte, 1, MSG_DONTWAIT), 0);  // EOF, nothing sent
  EXPECT_EQ(evA.closes, 0);  // destroyed, not closed: its owner is not told
}

// A read that fills its chunk leaves the rest for the next turn (queued by the stream itself
// under edges). A stream destroyed before then takes that read with it.
TEST_P(StreamTest, AStreamDestroyedWithItsNextReadQueuedTakesTheReadWithIt) {
  Events ev;
  SocketPair pair = unixPair();
  const std::string burst = pattern(Buffer::kReadChunk * 2, 3);
  ASSERT_EQ(::send(pair.remote.get(), burst.data(), burst.size(), MSG_DONTWAIT),
            static_cast<ssize_t>(burst.size()));
  std::unique_ptr<Stream> stream;
  ev.onData = [&](Stream&, Buffer& input) {
    ev.data.append(input.view());
    input.consume(input.readable());
    loop->defer([&] { stream.reset(); });  // after this turn's reads, before the next turn's
  };
  stream = makeStream(std::move(pair.local), ev);
  Script script(*loop);
  script.when("destroyed", [&] { return !stream; }).after(20 * kNsPerMs, [] {});
  ASSERT_TRUE(script.run());
  EXPECT_EQ(ev.data, burst.substr(0, Buffer::kReadChunk));  // one read, then nothing more
}

INSTANTIATE_TEST_SUITE_P(Stream, StreamTest, ::testing::ValuesIn(kBackends), backendName);

// --- SocketTransport ------------------------------------------------------------------------

TEST(StreamSocketTransportTest, MovesBytesFilesAndHalfCloses) {
  ::signal(SIGPIPE, SIG_IGN);
  SocketPair pair = unixPair();
  int peerFd = pair.remote.get();
  SocketTransport transport(std::move(pair.local));
  EXPECT_EQ(transport.write("abc", 3), 3);
  const std::string content = pattern(1000, 26);
  TempFile file(content);
  EXPECT_EQ(transport.sendFile(file.fd(), 10, 20), 20);
  EXPECT_EQ(transport.sendFile(file.fd(), 1000, 20), 0) << "at the end of the file";
  char buf[64];
  EXPECT_EQ(::read(peerFd, buf, sizeof buf), 23);
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_EQ(std::string(buf + 3, 20), content.substr(10, 20));
  EXPECT_EQ(::write(peerFd, "xy", 2), 2);
  char in[8] = {};
  iovec vec[2] = {{in, 1}, {in + 1, 7}};
  EXPECT_EQ(transport.readv(vec, 2), 2);
  EXPECT_EQ(std::string(in, 2), "xy");
  EXPECT_EQ(transport.readv(vec, 2), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(transport.shutdownWrite(), 0);
  EXPECT_EQ(::read(peerFd, buf, sizeof buf), 0) << "the peer reads EOF after shutdownWrite";
  EXPECT_EQ(::write(peerFd, "z", 1), 1) << "the other direction still works";
  EXPECT_EQ(transport.readv(vec, 2), 1);
  transport.close();
  EXPECT_EQ(transport.fd(), -1);
  EXPECT_EQ(::write(peerFd, "z", 1), -1);
  EXPECT_EQ(errno, EPIPE);
}

// --- Connector ------------------------------------------------------------------------------

class ConnectorTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    auto created = EventLoop::create(GetParam());
    ASSERT_TRUE(created.ok()) << created.error().message;
    loop = std::move(created.value());
  }

  struct Outcome {
    int calls = 0;
    Fd fd;
    CloseReason failure;
  };
  Connector::Done record(Outcome& outcome) {
    return [&outcome](Fd fd, CloseReason failure) {
      ++outcome.calls;
      outcome.fd = std::move(fd);
      outcome.failure = std::move(failure);
    };
  }

  static Endpoint loopback(uint16_t port) {
    auto endpoint = resolveEndpoint("127.0.0.1", port);
    EXPECT_TRUE(endpoint.ok());
    return endpoint.value();
  }

  std::unique_ptr<EventLoop> loop;
};

TEST_P(ConnectorTest, ConnectsToAListeningLoopbackSocket) {
  auto listener = listenTcp({});
  ASSERT_TRUE(listener.ok());
  uint16_t port = localPort(listener.value().get()).value();
  Outcome outcome;
  auto connector = Connector::start(*loop, loopback(port), kNsPerSec, "target", record(outcome));
  EXPECT_EQ(outcome.calls, 0) << "called back from inside start()";
  EXPECT_TRUE(connector->pending());
  Script script(*loop);
  script.when("called back", [&] { return outcome.calls > 0; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(outcome.calls, 1);
  ASSERT_TRUE(outcome.fd.valid()) << outcome.failure.text();
  EXPECT_FALSE(connector->pending());
  EXPECT_TRUE(::fcntl(outcome.fd.get(), F_GETFL) & O_NONBLOCK);
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(::getsockopt(outcome.fd.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  // It really is connected to our listener.
  Fd accepted(::accept4(listener.value().get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  EXPECT_EQ(::send(outcome.fd.get(), "hi", 2, MSG_NOSIGNAL), 2);
  char buf[2];
  EXPECT_EQ(::recv(accepted.get(), buf, 2, MSG_WAITALL), 2);
  connector->cancel();  // after the outcome: harmless
}

// A port with a socket bound to it but not listening: the kernel answers the SYN with a
// reset, every time, and nobody else can take the port while we hold it.
TEST_P(ConnectorTest, AClosedPortIsRefused) {
  Fd bound(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(bound.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  uint16_t port = localPort(bound.get()).value();
  Outcome outcome;
  auto connector =
      Connector::start(*loop, loopback(port), kNsPerSec, "target 127.0.0.1", record(outcome));
  Script script(*loop);
  script.when("called back", [&] { return outcome.calls > 0; });
  ASSERT_TRUE(script.run());
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_FALSE(outcome.fd.valid());
  EXPECT_EQ(outcome.failure.kind, CloseKind::kRefused) << outcome.failure.text();
  EXPECT_EQ(outcome.failure.err, ECONNREFUSED);
  EXPECT_NE(outcome.failure.detail.find("target 127.0.0.1"), std::string::npos);
}

// A connect timeout using loopback only. Linux drops a SYN whose listener's accept queue is
// full (tcp_conn_request: sk_acceptq_is_full -> drop, whatever tcp_syncookies says; only
// tcp_abort_on_overflow=1 would answer with a reset instead) and the client only retransmits
// it after the initial RTO of 1 s. So a listener with backlog 1 that never accepts is filled
// with connections until one of them does not complete within 100 ms; a connect started
// after that stays in SYN_SENT for a second, far longer than the 100 ms timeout. (A tiny
// timeout like 1 ns is not deterministic: the loop dispatches the socket's writability before
// it runs due timers, so a fast loopback connect can win the race.)
TEST_P(ConnectorTest, AConnectThatDoesNotFinishTimesOut) {
  ListenOptions options;
  options.backlog = 1;
  auto listener = listenTcp(options);
  ASSERT_TRUE(listener.ok());
  Endpoint endpoint = loopback(localPort(listener.value().get()).value());
  std::vector<Fd> fillers;
  bool full = false;
  for (int i = 0; i < 16 && !full; ++i) {
    bool connected = false;
    auto filler = startConnect(endpoint, connected);
    ASSERT_TRUE(filler.ok());
    if (!connected) {
      pollfd p{filler.value().get(), POLLOUT, 0};
      full = ::poll(&p, 1, 100) == 0;
    }
    fillers.push_back(std::move(filler.value()));
  }
  if (!full) GTEST_SKIP() << "the accept queue never filled (net.ipv4.tcp_abort_on_overflow?)";

  Outcome outcome;
  int64_t start = nowNs();
  auto connector =
      Connector::start(*loop, endpoint, 100 * kNsPerMs, "slow target", record(outcome));
  Script script(*loop);
  script.when("called back", [&] { return outcome.calls > 0; });
  ASSERT_TRUE(script.run());
  int64_t elapsed = nowNs() - start;
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_FALSE(outcome.fd.valid());
  EXPECT_EQ(outcome.failure.kind, CloseKind::kConnectTimeout) << outcome.failure.text();
  EXPECT_EQ(outcome.failure.err, ETIMEDOUT);
  EXPECT_NE(outcome.failure.detail.find("slow target: connect timed out after 100 ms"),
            std::string::npos)
      << outcome.failure.detail;
  EXPECT_GE(elapsed, 100 * kNsPerMs);
  EXPECT_LT(elapsed, 900 * kNsPerMs);
}

TEST_P(ConnectorTest, CancelMeansNoCallback) {
  auto listener = listenTcp({});
  ASSERT_TRUE(listener.ok());
  Endpoint endpoint = loopback(localPort(listener.value().get()).value());
  Outcome outcome;
  auto connector = Connector::start(*loop, endpoint, 50 * kNsPerMs, "target", record(outcome));
  connector->cancel();
  EXPECT_FALSE(connector->pending());
  connector->cancel();  // twice is harmless
  Script script(*loop);
  script.after(100 * kNsPerMs, [] {});  // past the connect and its timeout
  ASSERT_TRUE(script.run());
  EXPECT_EQ(outcome.calls, 0);
}

// Cancelling a refused connect from inside the same turn, and dropping a pending connector:
// neither calls back.
TEST_P(ConnectorTest, CancelAFailingConnectAndDropAPendingOne) {
  Fd bound(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(bound.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  Endpoint refusing = loopback(localPort(bound.get()).value());
  auto listener = listenTcp({});
  ASSERT_TRUE(listener.ok());
  Endpoint listening = loopback(localPort(listener.value().get()).value());
  Outcome cancelled, dropped, kept;
  auto a = Connector::start(*loop, refusing, 50 * kNsPerMs, "a", record(cancelled));
  auto b = Connector::start(*loop, listening, 50 * kNsPerMs, "b", record(dropped));
  auto c = Connector::start(*loop, listening, 50 * kNsPerMs, "c", record(kept));
  a->cancel();
  b.reset();
  Script script(*loop);
  script.when("c called back", [&] { return kept.calls > 0; }).after(80 * kNsPerMs, [] {});
  ASSERT_TRUE(script.run());
  EXPECT_EQ(cancelled.calls, 0);
  EXPECT_EQ(dropped.calls, 0);
  EXPECT_EQ(kept.calls, 1);
  EXPECT_TRUE(kept.fd.valid()) << kept.failure.text();
}

// A failure found inside start() (here socket(2) out of descriptors) is reported on the next
// pass; an owner that drops the connector before then has given up, and may be gone: no call.
TEST_P(ConnectorTest, DroppingAConnectorWhoseFailureIsQueuedMeansNoCallback) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  Fd probe(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(probe.valid());
  if (probe.get() >= 200) GTEST_SKIP() << "too many descriptors open to lower the limit";
  Outcome warmUp;  // a sanitizer checks a type's first use by reading /proc: not without fds
  Connector::start(*loop, loopback(9), kNsPerSec, "", record(warmUp))->cancel();
  rlimit low = old;
  low.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<Fd> fillers;
  for (Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); fd.valid();
       fd = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC))) {
    fillers.push_back(std::move(fd));
  }
  Outcome dropped, kept;
  auto a = Connector::start(*loop, loopback(9), kNsPerSec, "a", record(dropped));
  auto b = Connector::start(*loop, loopback(9), kNsPerSec, "b", record(kept));
  fillers.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  a.reset();
  Script script(*loop);
  script.when("b called back", [&] { return kept.calls > 0; }).after(20 * kNsPerMs, [] {});
  ASSERT_TRUE(script.run());
  EXPECT_EQ(dropped.calls, 0);
  EXPECT_EQ(kept.calls, 1);
  EXPECT_EQ(kept.failure.kind, CloseKind::kNoFds) << kept.failure.text();
}

INSTANTIATE_TEST_SUITE_P(Connector, ConnectorTest, ::testing::ValuesIn(kBackends), backendName);

TEST(ConnectorBackoffTest, StartsAtOneMillisecondGrowsAndCapsAtOneSecond) {
  Backoff backoff;
  std::vector<int64_t> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(backoff.nextDelayNs());
  EXPECT_EQ(delays.front(), kNsPerMs);
  EXPECT_TRUE(std::is_sorted(delays.begin(), delays.end()));
  EXPECT_EQ(delays.back(), kNsPerSec);
  for (size_t i = 2; i < delays.size(); ++i) {
    EXPECT_TRUE(delays[i] == 2 * delays[i - 1] || delays[i] == kNsPerSec) << i;
  }
  backoff.reset();
  EXPECT_EQ(backoff.nextDelayNs(), kNsPerMs);
}

// connector.h: "1 ms after a first failure, then 10 ms doubling up to 1 s".
TEST(ConnectorBackoffTest, FollowsTheDocumentedSequence) {
  Backoff backoff;
  std::vector<int64_t> delays;
  for (int i = 0; i < 10; ++i) delays.push_back(backoff.nextDelayNs() / kNsPerMs);
  EXPECT_EQ(delays, (std::vector<int64_t>{1, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000}));
}

}  // namespace
}  // namespace netlab
