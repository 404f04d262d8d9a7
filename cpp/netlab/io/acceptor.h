// Accepting connections on a non-blocking listening socket, shared by every model.
#pragma once

#include <functional>
#include <string>

#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab {

/// A descriptor kept open so that, when the process runs out of fds, one can be freed to
/// accept and immediately close the pending connection (libuv's EMFILE trick). Otherwise the
/// listening socket stays readable and a level-triggered loop spins at 100% CPU.
class SpareFd {
 public:
  SpareFd();
  /// Accepts and closes one pending connection while the fd table is full.
  void shedOne(int listenFd);

 private:
  Fd fd_;
};

/// One accept4(2): a non-blocking, close-on-exec connection, or an Error whose code is EAGAIN
/// when nothing is pending. EMFILE/ENFILE are answered by shedding the connection.
Result<Fd> acceptOne(int listenFd, SpareFd& spare);

/// Watches a listening socket on a loop and hands each new connection to `onAccept`.
class Acceptor final : public IoWatcher {
 public:
  using OnAccept = std::function<void(Fd)>;
  using OnFailure = std::function<void(const Error&)>;
  static constexpr int kMaxAcceptsPerWake = 64;

  Acceptor(EventLoop& loop, int listenFd, OnAccept onAccept, OnFailure onFailure);
  ~Acceptor() override;
  /// `exclusive` when several loops share the socket, so one wakes per connection.
  Status listen(bool exclusive);
  void onReady(uint32_t ready) override;

 private:
  EventLoop& loop_;
  int listenFd_;
  bool watching_ = false;
  SpareFd spare_;
  OnAccept onAccept_;
  OnFailure onFailure_;
};

}  // namespace netlab
