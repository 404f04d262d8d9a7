// Request/response connections served by one native I/O thread, for callers that must never
// block: Locust's greenlets. Callers submit requests from their thread; the I/O thread
// connects, sends, matches responses with the load generator's scenarios, and queues
// completions; an eventfd becomes readable when completions are waiting, so the caller's
// event loop (gevent) can wait on it cooperatively and drain them in batches.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netlab/io/event_loop.h"
#include "netlab/io/fd.h"
#include "netlab/io/socket.h"
#include "netlab/load/load_config.h"
#include "netlab/load/load_result.h"
#include "netlab/load/scenario.h"

namespace netlab {

class AsyncConn;

class AsyncClient {
 public:
  struct Completion {
    uint64_t ticket = 0;
    bool ok = false;
    int64_t latencyNs = 0;
    uint64_t bytes = 0;  // response bytes
    LoadError kind = LoadError::kOther;
    std::string message;
    // HTTP requests (submitHttp): the final response's status, header fields and body.
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  /// `config` supplies host, port, scenario (echo, line, framed, connect) and timeouts.
  static Result<std::unique_ptr<AsyncClient>> create(LoadConfig config);
  AsyncClient(LoadConfig config, std::unique_ptr<Scenario> scenario, Endpoint endpoint,
              std::unique_ptr<EventLoop> loop, Fd notifyFd);
  ~AsyncClient();

  const LoadConfig& config() const { return config_; }
  /// Readable while completions wait to be drained.
  int notifyFd() const { return notifyFd_.get(); }
  /// A new connection slot (it connects on its first request).
  uint64_t openConnection();
  void closeConnection(uint64_t conn);
  /// Queues one request on `conn`; its completion will carry `ticket`. False when the I/O
  /// thread's queue is full (EventLoop::kMaxPostedTasks) or the client has shut down. With `line`,
  /// this request is that line instead of the scenario's, and succeeds when the line `expect`
  /// arrives; lines that start with "* " or "<" (chat notices and room messages) are passed over
  /// meanwhile.
  bool submit(uint64_t conn, uint64_t ticket, std::optional<std::string> line = std::nullopt,
              std::optional<std::string> expect = std::nullopt);
  /// Queues one HTTP request, `request` being its bytes on the wire (head and body); the
  /// completion carries the response's status, fields and body (at most max_response bytes),
  /// whatever the status. `head`: the request is a HEAD, so the response has no body.
  bool submitHttp(uint64_t conn, uint64_t ticket, std::string request, bool head);
  std::vector<Completion> drain();
  void shutdown();

 private:
  friend class AsyncConn;
  void complete(Completion c);
  void onTick();

  LoadConfig config_;
  std::unique_ptr<Scenario> scenario_;
  std::shared_ptr<const Codec> lines_;  // for requests given as lines
  Endpoint endpoint_;
  std::unique_ptr<EventLoop> loop_;
  Fd notifyFd_;
  std::thread thread_;
  std::atomic<uint64_t> nextConn_{1};
  std::atomic<bool> down_{false};
  std::unordered_map<uint64_t, std::unique_ptr<AsyncConn>> conns_;  // loop thread only
  std::mutex mutex_;
  std::vector<Completion> done_;
  uint64_t seq_ = 0;
};

}  // namespace netlab
