// One non-blocking byte stream on an EventLoop (muduo's TcpConnection, libuv's uv_stream_t):
// the only place netlab moves a connection's bytes. Servers' connections, their outbound
// connections and clients all own one; none of them reads or writes a socket itself.
//
// It owns the transport, an input Buffer, an output queue of segments (bytes, and file ranges
// sent with sendfile(2) that are never read into memory), the high-water mark, the idle
// timer, its timers, half-close and close. Its owner hears about it through StreamEvents.
//
// Output is written once per loop iteration at most (sends made inside a callback, or from
// other work in the same iteration, go out in one write afterwards). Reading stops while the
// output is above the high-water mark and resumes at half of it, so a peer that does not read
// costs about high_water bytes. Every method runs on the loop's thread.
//
// Over a socket on epoll, a stream that only reads registers for edges (poller.h's kEdge), as
// nginx does: a read shorter than asked has emptied the socket, and a read that stopped short
// of that is followed by another on the next turn, which level-triggered readiness would
// otherwise have prompted. The kernel then does not re-check each reported socket on the next
// wait (benchmarks/results/edge_triggered.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "netlab/core/close_reason.h"
#include "netlab/io/buffer.h"
#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/io/transport.h"

namespace netlab {

/// A stream's settings. A stream keeps a pointer to them, not a copy: the owner keeps them
/// alive while its streams live (a server's loop, a load worker, a client), and every stream
/// of one owner reads the same cache line.
struct StreamOptions {
  /// Output queued past this pauses reading (with pauseOnHighWater) and is reported once.
  size_t highWater = 1 << 20;
  bool pauseOnHighWater = true;
  /// Output that may be queued before the stream closes as a slow consumer; 0: never.
  size_t maxQueuedOutput = 0;
  /// Closed after this long with nothing read or written; 0: never.
  int64_t idleTimeoutNs = 0;
  /// Most bytes one read takes; the rest waits a turn.
  size_t readChunk = Buffer::kReadChunk;
  /// Where to count bytes (a server's counters); null: not counted.
  std::atomic<uint64_t>* bytesIn = nullptr;
  std::atomic<uint64_t>* bytesOut = nullptr;
  /// Where to count read and write calls (syscall figures); null: not counted.
  std::atomic<uint64_t>* reads = nullptr;
  std::atomic<uint64_t>* writes = nullptr;
  /// True when only this stream's loop thread writes the counters above (a loop server's
  /// per-loop counters, a load worker's): they are added without a locked instruction.
  bool countersOwned = false;
};

class Stream;

/// What a Stream tells its owner; called on the loop thread. Any of them may send, pause,
/// close or start timers on the stream.
class StreamEvents {
 public:
  virtual ~StreamEvents() = default;
  /// New bytes are at the end of `input`; consume what was handled, leave the rest.
  virtual void onStreamData(Stream& stream, Buffer& input) = 0;
  /// The peer finished sending (half-close). Reading has stopped, writing still works. The
  /// default closes once everything queued is written (RFC 862's echo, HTTP/1.0).
  virtual void onStreamEof(Stream& stream);
  /// Every queued byte has been written.
  virtual void onStreamDrained(Stream&) {}
  /// Queued output reached the high-water mark (once per crossing).
  virtual void onStreamHighWater(Stream&, size_t /*queued*/) {}
  /// Queued output fell back to half the high-water mark after crossing it.
  virtual void onStreamLowWater(Stream&) {}
  /// The last call: the transport is closed and timers are cancelled.
  virtual void onStreamClose(Stream& stream, const CloseReason& reason) = 0;
};

class Stream final : public IoWatcher {
 public:
  using TimerHandle = uint64_t;
  /// How long a closing stream waits for the peer's FIN after its last byte (see
  /// finishClosing).
  static constexpr int64_t kLingerNs = 2'000'000'000;

  /// Over a connected socket, held inside the stream: no transport object of its own to
  /// allocate, and one cache line fewer for every read and write. `options` must outlive the
  /// stream (a temporary does not compile).
  Stream(EventLoop& loop, Fd socket, const StreamOptions& options, StreamEvents& events);
  /// Over any transport (a test's fault-injecting one, TLS later).
  Stream(EventLoop& loop, std::unique_ptr<Transport> transport, const StreamOptions& options,
         StreamEvents& events);
  Stream(EventLoop&, Fd, StreamOptions&&, StreamEvents&) = delete;
  Stream(EventLoop&, std::unique_ptr<Transport>, StreamOptions&&, StreamEvents&) = delete;
  /// The defaults, for a stream whose owner sets nothing.
  static const StreamOptions& defaultOptions();
  /// Closes without telling the owner, if the owner never closed it.
  ~Stream() override;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  /// Registers with the loop for reading.
  Status start();

  /// Queues bytes. False when closed, write-shut, or just closed as a slow consumer.
  bool send(std::string_view data) { return send(data, options_->maxQueuedOutput); }
  /// The same with this call's own bound on queued output (0: none).
  bool send(std::string_view data, size_t maxQueued);
  /// For a writer that builds its bytes in place (the load generator's requests), sparing a
  /// copy: append to the buffer this returns (null when closed or write-shut), then call
  /// commitAppend() with the count, before anything else touches the stream.
  Buffer* appendTarget();
  bool commitAppend(size_t bytes) { return commitAppend(bytes, options_->maxQueuedOutput); }
  bool commitAppend(size_t bytes, size_t maxQueued);
  /// Whether queued output has waited `ns` with nothing written: a peer that stopped reading,
  /// as opposed to one that is merely behind.
  bool stalledFor(int64_t ns) const;
  /// Queues `length` bytes of the file at `fd` from `offset`; the stream keeps its own
  /// duplicate of fd. They are sent with sendfile(2) as the socket takes them. A file that
  /// ends before the range does closes the stream with an I/O error.
  bool sendFile(int fd, int64_t offset, int64_t length);
  /// Reading on or off, for the owner's own reasons (the high-water pause is separate).
  void setReading(bool on);
  /// Half-closes once everything queued is written; reading goes on.
  void shutdownWrite();
  /// Stops reading and closes with `reason` once everything queued is written and the peer
  /// has read it (a lingering close: at most kLingerNs more).
  void closeAfterFlush(CloseReason reason);
  /// Closes now, dropping queued output.
  void close(CloseReason reason);

  /// A timer on this loop that is cancelled when the stream closes.
  TimerHandle runAfter(int64_t delayNs, std::function<void()> fn);
  bool cancelTimer(TimerHandle handle);

  bool isOpen() const { return state_ != State::kClosed; }
  bool closing() const { return state_ == State::kClosing; }
  bool readEof() const { return readEof_; }
  bool writeShut() const { return writeShut_ || shutdownPending_; }
  /// Whether the stream reads: open, not at EOF, and paused by neither owner nor high water.
  bool reading() const {
    return state_ == State::kOpen && !readEof_ && readEnabled_ &&
           !(aboveHigh_ && options_->pauseOnHighWater);
  }
  size_t queued() const { return queued_; }
  /// Unconsumed input (the Buffer onStreamData is given).
  Buffer& input() { return input_; }
  EventLoop& loop() { return loop_; }
  int fd() const { return transport_->fd(); }
  const StreamOptions& options() const { return *options_; }

  void onReady(uint32_t ready) override;

 private:
  enum class State : uint8_t { kOpen, kClosing, kClosed };
  /// A file range in the output queue, or the bytes queued after one.
  struct Segment {
    Fd file;  // invalid: a bytes segment
    int64_t offset = 0;
    int64_t length = 0;
    Buffer bytes{0};
  };

  void handleRead();
  void readNextTurn();
  bool lendOutput();
  void keepOutput();
  void handleEof();
  void flush();
  bool writeSome();
  bool writeBytes();
  [[gnu::noinline]] bool writeWithFiles();
  void deferFlush();
  void afterWrite(bool wrote);
  void finishClosing();
  void checkWater();
  uint32_t wantedInterest() const;
  void updateInterest();
  void setInterest(uint32_t want);
  void onUnrequested();
  void touch();
  void armIdleTimer(int64_t deadlineNs);
  void onIdleTimer();
  void assertInLoopThread() const;
  // The rare ends, out of line: their strings would otherwise cost every call of the hot
  // functions that reach them a frame of saved registers.
  [[gnu::cold, gnu::noinline]] bool fitsAfterFlush(size_t maxQueued);
  [[gnu::cold, gnu::noinline]] void closeOnError(const char* what, int err);
  [[gnu::cold, gnu::noinline]] void closeFileEnded(int64_t offset, int64_t length);

  // Members in the order a request touches them, in as few cache lines as they fit (at a
  // thousand connections each line is a likely miss): the state every event looks at, the
  // buffers, the socket. Timers, the close reason and the transport a test supplies come last.
  EventLoop& loop_;
  Transport* transport_;  // socket_ or ownedTransport_
  // Bytes queued before any file range: out_, or the loop's write buffer while one callback
  // borrows it (lendOutput).
  Buffer* output_;
  StreamEvents& events_;
  const StreamOptions* options_;  // the owner's, shared by its streams
  State state_ = State::kOpen;
  bool readEnabled_ = true;
  bool aboveHigh_ = false;
  bool readEof_ = false;
  bool writeShut_ = false;
  bool shutdownPending_ = false;
  bool lingering_ = false;  // closing: written out, half-closed, discarding input
  bool flushDeferred_ = false;
  bool corked_ = false;  // TCP_CORK set while file ranges go out (Transport::setCork)
  // Edge-triggered reading (poller.h's kEdge), which the stream must then keep going itself:
  bool edges_ = false;          // asked for while reading alone (socket, epoll)
  bool readMore_ = false;       // the last read may have left input in the socket
  bool readAll_ = false;        // a short read is not enough (kReadAll): read until EAGAIN
  bool readScheduled_ = false;  // readNextTurn() is queued
  uint32_t interest_ = 0;       // what the poller has registered (updateInterest)
  int inCallback_ = 0;          // > 0 while the owner is handling input: its sends wait for the end
  size_t queued_ = 0;           // output_ and later_
  int64_t lastProgressNs_ = 0;  // the last write, or when the queue last became non-empty
  int64_t lastActiveNs_ = 0;
  // Between reads it holds only what the owner left unconsumed (handleRead), so it starts
  // with no room and a quiet connection costs nothing here.
  Buffer input_{0};
  SocketTransport socket_;
  // File ranges in later_. later_ holds something only while one is queued (or within the
  // writeWithFiles that sends the last one), so a stream without files never reads later_.
  size_t filesQueued_ = 0;
  // The rest a request seldom touches. A file range first, then whatever follows it. A list,
  // not a deque: an empty deque still allocates over 500 bytes, and almost every stream never
  // queues a file.
  std::list<Segment> later_;
  // The stream's own storage for output: what a write left, and what is sent outside its
  // read callback. It starts with no room, grows to what the connection leaves queued, and
  // past a burst shrinks back to Buffer::kInitialSize (shrinkIfIdle). A reply written whole
  // from the loop's buffer (lendOutput) never touches it.
  Buffer out_{0};
  std::unique_ptr<Transport> ownedTransport_;
  CloseReason pendingReason_;  // for kClosing
  bool idleArmed_ = false;
  TimerQueue::TimerId idleTimer_{};
  size_t flushTicket_ = 0;  // while flushDeferred_ (EventLoop::deferCancellable)
  size_t readTicket_ = 0;   // while readScheduled_ (EventLoop::runNextTurnCancellable)
  TimerHandle nextTimer_ = 1;
  std::unordered_map<TimerHandle, TimerQueue::TimerId> timers_;
};

}  // namespace netlab
