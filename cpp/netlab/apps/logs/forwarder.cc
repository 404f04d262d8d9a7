#include "netlab/apps/logs/forwarder.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "netlab/io/clock.h"

namespace netlab {
namespace {

constexpr int64_t kSaveEveryNs = 500'000'000;

// "<client id> <position>": the keys' client must stay the same across restarts, or an
// upstream LogServer could not recognise what it has stored already.
bool loadState(const std::string& path, std::string& clientId, int64_t& position) {
  std::ifstream in(path);
  std::string id;
  int64_t pos = -1;
  if (!(in >> id >> pos) || pos < 0 || !logs::validClientId(id)) return false;
  clientId = id;
  position = pos;
  return true;
}

// Written aside, synced, then renamed over the old one: a crash leaves the old state or the
// new one, never a torn file (an old position only means logs sent again).
Status writeState(const std::string& path, const std::string& clientId, int64_t position) {
  std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return sysError("open " + tmp);
  std::string text = clientId + " " + std::to_string(position) + "\n";
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0) {
    return sysError("write " + tmp);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return sysError("rename " + tmp);
  return {};
}

}  // namespace

const std::vector<Field<LogForwardOptions>>& Fields<LogForwardOptions>::fields() {
  using O = LogForwardOptions;
  static const std::vector<Field<O>> table = {
      text("data_dir", &O::dataDir, "directory", "the store whose logs are forwarded"),
      text("upstreams", &O::upstreams, "list",
           "where to: syslog://host:port (RFC 5424, octet-counted: rsyslog), logs://host:port "
           "(another LogServer's ingest port: exactly once); the first preferred, the next "
           "ones taking over in turn"),
      text("name", &O::name, "name",
           "the forwarder's state file in data_dir (<name>.state): its position and client id"),
      number("window", &O::window, 1, 100000, "logs", "logs sent and not yet confirmed"),
      number("timeout", &O::timeoutSec, 0.01, 3600, "seconds",
             "for connecting, and the longest a LogServer upstream may leave a log unanswered"),
      number("settle", &O::settleSec, 0, 60, "seconds",
             "syslog: how long after the upstream's TCP acknowledged a log it counts as "
             "delivered (sent again if the connection breaks before)"),
      number("backoff_max", &O::backoffMaxSec, 0.01, 3600, "seconds",
             "the longest pause between rounds of failed connects (doubling from 0.1 s)"),
  };
  return table;
}

Result<std::unique_ptr<LogForwarder>> LogForwarder::start(LogForwardOptions options) {
  for (const auto& f : Fields<LogForwardOptions>::fields()) {
    Status st = f.check(options);
    if (!st.ok()) return st.error();
  }
  auto upstreams = parseUpstreams(options.upstreams, "syslog");
  if (!upstreams.ok()) return upstreams.error();
  if (options.name.empty() || options.name.find('/') != std::string::npos)
    return Error{EINVAL, "name must be a plain file name"};
  logs::StoreOptions so;
  so.dir = options.dataDir;
  auto store = logs::LogStore::open(so);
  if (!store.ok()) return store.error();
  std::unique_ptr<LogForwarder> f(new LogForwarder(std::move(options), store.value()));

  std::string path = f->store_->dir() + "/" + f->options_.name + ".state";
  int64_t position = 0;
  // A position past the store's ids: the store was emptied or made anew, and its ids start
  // over; so must the keys, under a new client id, or the upstream would take them as resends.
  if (!loadState(path, f->clientId_, position) || position > f->store_->lastId()) {
    position = 0;
    f->clientId_ = "fwd-" + logs::randomHex64();
    Status saved = writeState(path, f->clientId_, 0);
    if (!saved.ok()) return saved.error();
  }
  f->saved_ = position;

  LogSenderOptions so2;
  so2.upstreams = std::move(upstreams.value());
  so2.clientId = f->clientId_;
  so2.window = static_cast<size_t>(f->options_.window);
  so2.timeoutSec = f->options_.timeoutSec;
  so2.settleSec = f->options_.settleSec;
  so2.backoffMaxSec = f->options_.backoffMaxSec;
  std::shared_ptr<logs::LogStore> source = f->store_;
  auto read = [source](int64_t after, size_t limit) {
    logs::Filter filter;
    filter.afterId = after;
    filter.limit = limit;
    filter.oldestFirst = true;
    auto rows = source->query(filter);
    if (!rows.ok()) return std::vector<logs::LogRecord>{};  // tried again on the next turn
    for (logs::LogRecord& r : rows.value()) r.seq = r.id;
    return std::move(rows.value());
  };
  LogForwarder* self = f.get();
  auto thread = LogSenderThread::start(std::move(so2), read, position,
                                       [self](const LogSender& s) { self->save(s.position()); });
  if (!thread.ok()) return thread.error();
  f->thread_ = std::move(thread.value());
  LogSenderThread* wake = f->thread_.get();
  f->watch_ = f->store_->watch([wake] { wake->wake(); });
  return f;
}

LogForwarder::LogForwarder(LogForwardOptions options, std::shared_ptr<logs::LogStore> store)
    : options_(std::move(options)), store_(std::move(store)) {}

LogForwarder::~LogForwarder() { stop(); }

void LogForwarder::stop() {
  if (!thread_) return;
  store_->unwatch(watch_);
  thread_->stop();
  int64_t position = thread_->stats().position;
  saved_ = -1;
  savedAtNs_ = 0;
  save(position);
}

// On the sender's thread (and once more at stop): at most twice a second, and only when the
// position moved.
void LogForwarder::save(int64_t position) {
  int64_t now = nowNs();
  if (position == saved_ || (savedAtNs_ != 0 && now - savedAtNs_ < kSaveEveryNs)) return;
  if (writeState(store_->dir() + "/" + options_.name + ".state", clientId_, position).ok()) {
    saved_ = position;
    savedAtNs_ = now;
  }
}

LogSender::Stats LogForwarder::stats() const {
  return thread_ ? thread_->stats() : LogSender::Stats{};
}

bool LogForwarder::drain(double timeoutSec) {
  if (!thread_) return false;
  store_->flush();
  logs::Filter newest;  // the last id stored (not the last given: a duplicate has none)
  newest.limit = 1;
  auto rows = store_->query(newest);
  if (!rows.ok()) return false;
  return rows.value().empty() || thread_->waitFor(rows.value().back().id, timeoutSec);
}

}  // namespace netlab
