#include "netlab/load/log_scenario.h"

#include "netlab/apps/logs/record.h"

namespace netlab {
namespace {

// The message: "load <seq> " then filler up to `size` bytes, so each log is told apart.
void appendMessage(uint64_t seq, size_t size, std::string& out) {
  size_t start = out.size();
  out += "load ";
  out += std::to_string(seq);
  out += ' ';
  size_t used = out.size() - start;
  if (used < size) out.append(size - used, 'x');
}

class LogScenario final : public Scenario {
 public:
  explicit LogScenario(size_t size) : size_(size) {}

  void writeRequest(uint64_t seq, Buffer& out) const override {
    std::string line = "LOG|INFO||";
    appendMessage(seq, size_, line);
    line += '\n';
    out.append(line);
  }

  Verdict readResponse(uint64_t, std::string_view in, size_t& scanned, size_t& consumed,
                       std::string& why, ResponseInfo&) const override {
    size_t nl = in.find('\n', scanned);
    if (nl == std::string_view::npos) {
      scanned = in.size();
      return Verdict::kIncomplete;
    }
    scanned = 0;
    consumed = nl + 1;
    std::string_view line = in.substr(0, nl);
    if (line.substr(0, 3) == "OK|") return Verdict::kOk;
    why = "the server answered: " + std::string(line.substr(0, 200));
    return Verdict::kMismatch;
  }

 private:
  size_t size_;
};

class SyslogScenario final : public Scenario {
 public:
  SyslogScenario(size_t size, bool octetCounted) : size_(size), octet_(octetCounted) {
    header_ = "<134>1 " + logs::formatTimestamp(logs::wallMs()) + " loadgen netlab - - - ";
  }

  void writeRequest(uint64_t, Buffer&) const override {}
  Verdict readResponse(uint64_t, std::string_view, size_t&, size_t&, std::string&,
                       ResponseInfo&) const override {
    return Verdict::kProtocolError;
  }
  bool streaming() const override { return true; }
  bool oneWay() const override { return true; }

  // `size` is the whole syslog message, header included, as rsyslog's benchmarks count it.
  void writeStamped(uint64_t seq, int64_t, int64_t, Buffer& out) const override {
    std::string message = header_;
    appendMessage(seq, size_ > header_.size() ? size_ - header_.size() : 0, message);
    std::string frame;
    if (octet_) {
      frame = std::to_string(message.size()) + " " + message;
    } else {
      frame = std::move(message);
      frame += '\n';
    }
    out.append(frame);
  }

  size_t readDeliveries(std::string_view in, size_t&, const std::function<void(int64_t, int64_t)>&,
                        std::string& why) const override {
    if (!in.empty()) why = "a syslog server sent something back";
    return in.size();
  }

 private:
  size_t size_;
  bool octet_;
  std::string header_;
};

}  // namespace

std::unique_ptr<Scenario> makeLogScenario(const LoadConfig& c) {
  return std::make_unique<LogScenario>(c.size);
}

std::unique_ptr<Scenario> makeSyslogScenario(const LoadConfig& c) {
  return std::make_unique<SyslogScenario>(c.size, c.framing == "octet");
}

}  // namespace netlab
