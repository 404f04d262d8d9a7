// Ships logs to one of several upstream servers, in order of preference, and knows which of
// them were delivered: the engine of LogClient and of LogServer's forwarding. Records come
// from a Source by increasing key (a client's sequence numbers, a store's ids), so whatever
// was not confirmed when a connection broke is sent again from the source, not from memory.
//
// Protocols:
// - "logs":   LogServer's text port, CLIENT|<id> then LOGK lines; each OK|<id> confirms one.
//             Keys make resends idempotent: exactly once into a LogServer with ack="durable".
// - "binary": LogServer's binary frames, CLIENT (5) then LOG frames; each answer confirms one.
// - "syslog": RFC 5424, octet-counted (RFC 6587), as rsyslog's imtcp reads it. Plain TCP
//             syslog has no acknowledgement, so a message counts as delivered once the peer's
//             TCP has acknowledged its bytes and `settle` seconds have passed (time for the
//             server to read them from its socket); on a reconnect, the rest is sent again:
//             at least once, the resent ones counted as possible duplicates.
//
// Not thread-safe: one thread calls turn() in a loop; the owner wakes it through `wakeFd`.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "netlab/apps/logs/record.h"
#include "netlab/codec/codec.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab {

struct Upstream {
  std::string protocol;  // logs | binary | syslog
  std::string host;
  uint16_t port = 0;
  std::string token;  // logs: sent first as AUTH|<token>
  std::string text() const;
};

/// A wait of `sec` seconds for condition_variable::wait_for: NaN is none, infinity a year.
inline std::chrono::duration<double> boundedWait(double sec) {
  return std::chrono::duration<double>(sec > 0 ? std::min(sec, 365 * 86400.0) : 0.0);
}

/// "logs://127.0.0.1:9999 syslog://[::1]:514 logs://TOKEN@host:9999", separated by spaces or
/// commas; an address without a scheme takes `defaultProtocol`.
Result<std::vector<Upstream>> parseUpstreams(std::string_view spec,
                                             std::string_view defaultProtocol);

struct LogSenderOptions {
  std::vector<Upstream> upstreams;  // the first is preferred; the next ones take over in turn
  std::string clientId;             // logs and binary: the idempotency keys' client
  size_t window = 1000;             // records sent and not yet confirmed
  double timeoutSec = 10;           // connect, and logs/binary: the longest wait for an answer
  double settleSec = 1;             // syslog: see above
  double backoffMinSec = 0.1, backoffMaxSec = 5;  // between rounds of failed connects
};

class LogSender {
 public:
  /// Up to `limit` records with keys above `after`, in key order (record.seq is the key).
  using Source = std::function<std::vector<logs::LogRecord>(int64_t after, size_t limit)>;

  struct Stats {
    uint64_t sent = 0, confirmed = 0, resent = 0, rejected = 0;
    uint64_t connects = 0, connectFailures = 0, disconnects = 0, failovers = 0;
    int64_t position = 0;  // every key up to this one is delivered
    int active = -1;       // the upstream connected now (index), or -1
    std::string lastError;
  };

  LogSender(LogSenderOptions options, Source source, int64_t position);
  ~LogSender();
  LogSender(const LogSender&) = delete;
  LogSender& operator=(const LogSender&) = delete;

  /// Connects if it must, sends what the window allows, reads answers; waits at most
  /// `waitMs` for the socket or for `wakeFd` (an eventfd, drained here; -1: none).
  void turn(int wakeFd, int waitMs);
  /// Every key up to this one is delivered.
  int64_t position() const { return confirmed_; }
  /// Nothing sent is waiting for confirmation (the source may still hold more).
  bool settled() const { return inflight_.empty() && settling_.empty(); }
  const Stats& stats() const { return stats_; }
  void closeConnection();

 private:
  struct InFlight {
    int64_t key;
    uint64_t endOffset;   // syslog: the stream offset just past this message
    int64_t ackedAt = 0;  // syslog: when the peer's TCP acknowledged all of it
  };
  bool connect();
  void nextUpstream();
  void proven();
  void fill();
  size_t awaited() const;
  void encode(const logs::LogRecord& r);
  void writeOut();
  void readIn();
  void answer(bool ok);
  void settleSyslog(int64_t now);
  void drop(const std::string& why);
  int pollTimeoutMs(int waitMs, int64_t now) const;

  LogSenderOptions options_;
  Source source_;
  std::shared_ptr<const Codec> frames_;  // binary
  Fd fd_;
  size_t current_ = 0;  // the upstream in use or tried next
  int lastConnected_ = -1;
  size_t triedThisRound_ = 0;
  int64_t retryAtNs_ = 0;
  double backoffSec_ = 0;
  int handshake_ = 0;              // answers still due for AUTH and CLIENT
  int64_t confirmed_;              // every key up to this is delivered
  int64_t sentUpTo_;               // the highest key written on this connection
  int64_t highestSent_;            // the highest key ever written: below it, sends are resends
  std::deque<InFlight> inflight_;  // syslog: not yet acknowledged by the peer's TCP
  struct Settling {
    int64_t key;  // the last of `count` messages acknowledged at `ackedAt`
    int64_t ackedAt;
    uint64_t count;
  };
  std::deque<Settling> settling_;  // syslog
  uint64_t ackedBytes_ = 0;
  bool proven_ = false;  // this connection has delivered something
  std::string out_, in_;
  uint64_t bytesSent_ = 0;
  int64_t lastProgressNs_ = 0;
  Stats stats_;
};

/// A LogSender on a thread of its own, woken through an eventfd when the source has more.
class LogSenderThread {
 public:
  /// Runs on the thread after every turn (to save a position, trim a queue).
  using AfterTurn = std::function<void(const LogSender&)>;
  static Result<std::unique_ptr<LogSenderThread>> start(LogSenderOptions options,
                                                        LogSender::Source source, int64_t position,
                                                        AfterTurn afterTurn);
  ~LogSenderThread();  // stop()
  /// Any thread: the source has more.
  void wake();
  /// Returns once the thread has ended (what is unconfirmed stays unconfirmed).
  void stop();
  LogSender::Stats stats() const;
  /// Blocks until every key up to `key` is delivered; false when `timeoutSec` passes first.
  bool waitFor(int64_t key, double timeoutSec);

 private:
  LogSenderThread(Fd wakeFd, std::unique_ptr<LogSender> sender, AfterTurn afterTurn);
  void run();

  Fd wakeFd_;
  std::unique_ptr<LogSender> sender_;
  AfterTurn afterTurn_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable progressed_;
  LogSender::Stats stats_;
  std::thread thread_;
};

}  // namespace netlab
