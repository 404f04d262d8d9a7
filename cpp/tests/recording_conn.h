// A Conn that records what a handler asks of it, and an Outlet that appends to a string: a
// protocol is bytes in and calls on its Conn out, so it can be tested without a loop or a
// socket.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "netlab/core/handler.h"

namespace netlab {

class RecordingOutlet final : public Outlet {
 public:
  explicit RecordingOutlet(std::string* sink) : sink_(sink) {}
  bool deliver(std::string_view data) override {
    if (closed) return false;
    sink_->append(data);
    return true;
  }
  bool post(std::function<void(Conn&)>) override { return false; }
  bool closed = false;

 private:
  std::string* sink_;
};

// A Conn that records what the handler asks of it.
class RecordingConn final : public Conn {
 public:
  explicit RecordingConn(uint64_t id, std::string peer = "")
      : id_(id),
        peer_(peer.empty() ? "127.0.0.1:" + std::to_string(40000 + id) : std::move(peer)) {}
  void send(std::string_view data) override { sent.append(data); }
  bool budgetLeft() override {
    if (budget == 0) return false;
    --budget;
    return true;
  }
  bool sendFile(int, int64_t, int64_t) override { return false; }
  size_t queuedOutput() const override { return 0; }
  void pauseReading() override {}
  void resumeReading() override {}
  void shutdownWrite() override {}
  void closeAfterFlush() override { closing = true; }
  void close(CloseReason) override { closing = true; }
  void fail(std::string_view reason) override {
    failed = std::string(reason);
    closing = true;
  }
  TimerHandle runAfter(double, std::function<void()>) override { return 0; }
  bool cancelTimer(TimerHandle) override { return false; }
  void connect(const std::string&, uint16_t, double, std::unique_ptr<Handler>) override {}
  uint64_t id() const override { return id_; }
  const std::string& peer() const override { return peer_; }
  std::shared_ptr<Outlet> outlet() override {
    if (!outlet_) outlet_ = std::make_shared<RecordingOutlet>(&sent);
    return outlet_;
  }

  std::string sent;
  std::string failed;
  size_t budget = SIZE_MAX;
  bool closing = false;

 private:
  uint64_t id_;
  std::string peer_;
  std::shared_ptr<RecordingOutlet> outlet_;
};

}  // namespace netlab
