// Accepting connections on a non-blocking listening socket, shared by every model.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab {

/// A descriptor kept open so that, when the process runs out of fds, one can be freed to
/// accept and immediately close the pending connection (libuv's EMFILE trick). Otherwise the
/// listening socket stays readable and a level-triggered loop spins at 100% CPU. One per
/// listening socket, shared by every thread that accepts on it, with a lock: a second worker
/// must not take the fd that shedding frees.
class SpareFd {
 public:
  SpareFd();
  std::mutex& mutex() { return mutex_; }
  enum class Shed { kShed, kNothingPending, kNoSpare };
  /// With mutex() held and the fd table full: frees the spare, accepts the pending
  /// connection and closes it, then takes the spare back. kNoSpare when there was no spare
  /// to free: the caller must stop accepting for a while instead of spinning.
  Shed shedOne(int listenFd);

 private:
  std::mutex mutex_;
  Fd fd_;
};

/// One accept4(2): a non-blocking, close-on-exec connection, or an Error whose code is EAGAIN
/// when nothing is pending. EMFILE/ENFILE are answered by shedding the connection: `shed`
/// says whether that worked (the Error's code is then EMFILE or ENFILE). `calls`, when given,
/// counts the accept4 calls made (shedding makes a second).
Result<Fd> acceptOne(int listenFd, SpareFd& spare, bool& shed,
                     std::atomic<uint64_t>* calls = nullptr);

/// How long accepting pauses when the fd table is full and nothing could be shed.
constexpr int64_t kAcceptPauseNs = 100'000'000;

/// Watches a listening socket on a loop and hands each new connection to `onAccept`.
class Acceptor final : public IoWatcher {
 public:
  using OnAccept = std::function<void(Fd)>;
  using OnFailure = std::function<void(const Error&)>;
  static constexpr int kMaxAcceptsPerWake = 64;

  /// `onShed` is told of each connection shed for want of fds.
  Acceptor(EventLoop& loop, int listenFd, SpareFd& spare, OnAccept onAccept, OnFailure onFailure,
           std::function<void()> onShed);
  ~Acceptor() override;
  /// `exclusive` when several loops share the socket, so one wakes per connection.
  Status listen(bool exclusive);
  /// Counts each accept4 call into `calls` (stats()'s accepts), or stops counting (nullptr).
  void countAcceptsInto(std::atomic<uint64_t>* calls) { calls_ = calls; }
  void onReady(uint32_t ready) override;

 private:
  void pause();
  void resumeLater();

  EventLoop& loop_;
  int listenFd_;
  bool watching_ = false;
  bool exclusive_ = false;
  SpareFd& spare_;
  OnAccept onAccept_;
  OnFailure onFailure_;
  std::function<void()> onShed_;
  std::atomic<uint64_t>* calls_ = nullptr;
};

}  // namespace netlab
