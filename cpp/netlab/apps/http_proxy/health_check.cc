#include "netlab/apps/http_proxy/health_check.h"

#include <optional>

#include "netlab/http/parser.h"
#include "netlab/io/clock.h"
#include "netlab/io/connector.h"
#include "netlab/io/socket.h"
#include "netlab/io/stream.h"
#include "netlab/io/transport.h"

namespace netlab {

// One upstream's check in progress: connect, send the request, read the status line. It
// ends once, passed or failed, whichever comes first of an answer, a close, an error or the
// deadline; its connection stays until the next check begins, as the connection's own
// callbacks may be what ended it.
class HealthChecker::Probe final : public StreamEvents {
 public:
  Probe(HealthChecker& owner, size_t index, Endpoint endpoint)
      : owner_(owner), index_(index), endpoint_(endpoint) {
    const UpstreamAddress& to = owner.upstreams_.address(index);
    request_ = "GET " + owner.settings_.path + " HTTP/1.1\r\nHost: " + to.name +
               "\r\nUser-Agent: netlab-health-check\r\nConnection: close\r\n\r\n";
  }

  void begin() {
    EventLoop& loop = *owner_.loop_;
    stream_.reset();
    connector_.reset();
    done_ = false;
    parser_.emplace(netlab::http::Role::kResponse);
    parser_->expectResponseTo("GET");
    auto timeoutNs = static_cast<int64_t>(owner_.settings_.intervalSec * 1e9);
    deadline_ = loop.runAt(nowNs() + timeoutNs, [this] {
      deadlineArmed_ = false;
      end(false);
    });
    deadlineArmed_ = true;
    connector_ = Connector::start(loop, endpoint_, timeoutNs, {},
                                  [this](Fd fd, CloseReason) { connected(std::move(fd)); });
  }

  void onStreamData(Stream&, Buffer& input) override {
    while (!done_) {
      netlab::http::Event e = parser_->next(input.view());
      input.consume(e.consumed);
      if (e.type == netlab::http::Event::kHead && !parser_->head().informational()) {
        int status = parser_->head().status;
        end(status >= 200 && status < 400);
      } else if (e.type == netlab::http::Event::kError) {
        end(false);
      } else if (e.type == netlab::http::Event::kNeedData) {
        return;
      }
    }
    input.clear();
  }
  void onStreamEof(Stream&) override { end(false); }
  void onStreamClose(Stream&, const CloseReason&) override { end(false); }

  ~Probe() override {
    if (deadlineArmed_) owner_.loop_->cancel(deadline_);
  }

 private:
  void connected(Fd fd) {
    if (done_) return;
    if (!fd.valid()) {
      end(false);
      return;
    }
    stream_ =
        std::make_unique<Stream>(*owner_.loop_, std::move(fd), Stream::defaultOptions(), *this);
    if (!stream_->start().ok() || !stream_->send(request_)) end(false);
  }

  void end(bool passed) {
    if (done_) return;
    done_ = true;
    if (deadlineArmed_) owner_.loop_->cancel(deadline_);
    deadlineArmed_ = false;
    if (connector_) connector_->cancel();
    if (stream_ && stream_->isOpen()) stream_->close({CloseKind::kLocalClose, 0, "checked"});
    owner_.finished(index_, passed);
  }

  HealthChecker& owner_;
  size_t index_;
  Endpoint endpoint_;
  std::string request_;
  std::shared_ptr<Connector> connector_;
  std::unique_ptr<Stream> stream_;
  std::optional<netlab::http::Parser> parser_;
  TimerQueue::TimerId deadline_{};
  bool deadlineArmed_ = false, done_ = true;
};

Result<std::unique_ptr<HealthChecker>> HealthChecker::start(UpstreamSet& upstreams,
                                                            Settings settings, Counts& counts) {
  auto loop = EventLoop::create("epoll");
  if (!loop.ok()) return loop.error();
  std::vector<Endpoint> endpoints;
  for (size_t i = 0; i < upstreams.size(); ++i) {
    const UpstreamAddress& a = upstreams.address(i);
    auto endpoint = resolveEndpoint(a.host, a.port);
    if (!endpoint.ok()) return endpoint.error();
    endpoints.push_back(endpoint.value());
  }
  std::unique_ptr<HealthChecker> checker(
      new HealthChecker(upstreams, std::move(settings), counts, std::move(loop.value())));
  for (size_t i = 0; i < endpoints.size(); ++i) {
    checker->probes_.push_back(std::make_unique<Probe>(*checker, i, endpoints[i]));
  }
  HealthChecker* c = checker.get();
  c->loop_->post([c] {
    for (size_t i = 0; i < c->probes_.size(); ++i) c->begin(i);
  });
  c->thread_ = std::thread([c] { (void)c->loop_->run(); });
  return checker;
}

HealthChecker::HealthChecker(UpstreamSet& upstreams, Settings settings, Counts& counts,
                             std::unique_ptr<EventLoop> loop)
    : upstreams_(upstreams),
      settings_(std::move(settings)),
      counts_(counts),
      loop_(std::move(loop)),
      streak_(upstreams.size(), 0) {}

// The probes close their connections on the loop's own thread, then the loop ends.
HealthChecker::~HealthChecker() {
  bool posted = loop_->post([this] {
    probes_.clear();
    loop_->stop();
  });
  if (!posted) loop_->stop();
  if (thread_.joinable()) thread_.join();
}

void HealthChecker::begin(size_t i) { probes_[i]->begin(); }

void HealthChecker::finished(size_t i, bool passed) {
  counts_.checks.fetch_add(1, std::memory_order_relaxed);
  if (!passed) counts_.failures.fetch_add(1, std::memory_order_relaxed);
  int64_t& streak = streak_[i];
  streak = passed ? std::max<int64_t>(streak, 0) + 1 : std::min<int64_t>(streak, 0) - 1;
  if (streak <= -settings_.fails) upstreams_.setChecked(i, /*down=*/true);
  if (streak >= settings_.passes) upstreams_.setChecked(i, /*down=*/false);
  auto intervalNs = static_cast<int64_t>(settings_.intervalSec * 1e9);
  loop_->runAt(nowNs() + intervalNs, [this, i] { begin(i); });
}

}  // namespace netlab
