// LogServer's forwarding: every log the store holds goes on to upstream servers (rsyslog,
// another LogServer), read from the store rather than from memory, so an upstream that is
// down or restarts loses nothing; the position reached is saved in the data directory, so a
// restart of this server resumes where it was. See LogSender for what each protocol promises.
#pragma once

#include <memory>
#include <string>

#include "netlab/apps/logs/store.h"
#include "netlab/client/log_sender.h"
#include "netlab/core/options.h"

namespace netlab {

struct LogForwardOptions {
  std::string dataDir = "./netlab-logs";
  std::string upstreams;         // "syslog://127.0.0.1:514 logs://host:9999", failover order
  std::string name = "forward";  // its state file (<data_dir>/<name>.state): one per forwarder
  int64_t window = 1000;         // logs sent and not yet confirmed
  double timeoutSec = 10;        // connecting; the longest wait for a LogServer's answer
  double settleSec = 1;          // syslog: how long after TCP's acknowledgement a log counts
  double backoffMaxSec = 5;      // the longest pause between rounds of failed connects
};
template <>
struct Fields<LogForwardOptions> {
  static const std::vector<Field<LogForwardOptions>>& fields();
};

class LogForwarder {
 public:
  static Result<std::unique_ptr<LogForwarder>> start(LogForwardOptions options);
  ~LogForwarder();  // stop()
  LogForwarder(const LogForwarder&) = delete;
  LogForwarder& operator=(const LogForwarder&) = delete;

  /// Stops sending and saves the position reached.
  void stop();
  LogSender::Stats stats() const;
  /// Blocks until every log stored before the call is delivered; false after `timeoutSec`.
  bool drain(double timeoutSec);
  const LogForwardOptions& options() const { return options_; }

 private:
  LogForwarder(LogForwardOptions options, std::shared_ptr<logs::LogStore> store);
  void save(int64_t position);

  LogForwardOptions options_;
  std::shared_ptr<logs::LogStore> store_;
  std::string clientId_;
  int64_t saved_ = -1;
  int64_t savedAtNs_ = 0;
  uint64_t watch_ = 0;
  std::unique_ptr<LogSenderThread> thread_;
};

}  // namespace netlab
