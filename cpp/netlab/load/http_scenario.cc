#include "netlab/load/http_scenario.h"

#include <cerrno>
#include <string>
#include <vector>

#include "netlab/http/chars.h"
#include "netlab/http/parser.h"

namespace netlab {
namespace {

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t start = s.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    size_t end = s.find(' ', start);
    out.push_back(s.substr(start, end - start));
    s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  }
  return out;
}

std::vector<std::string_view> headerLines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t lf = s.find('\n');
    std::string_view line = s.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) out.push_back(line);
    s.remove_prefix(lf == std::string_view::npos ? s.size() : lf + 1);
  }
  return out;
}

bool hasHeader(const std::vector<std::string_view>& lines, std::string_view name) {
  for (std::string_view line : lines) {
    if (http::equalsIgnoreCase(line.substr(0, line.find(':')), name)) return true;
  }
  return false;
}

class HttpScenario final : public Scenario {
 public:
  explicit HttpScenario(const LoadConfig& c)
      : head_(http::equalsIgnoreCase(c.method, "HEAD")), keepAlive_(c.keepAlive) {
    std::vector<std::string_view> extra = headerLines(c.headers);
    std::string fields;
    if (!hasHeader(extra, "host")) {
      fields += "Host: " + c.host + ":" + std::to_string(c.port) + "\r\n";
    }
    for (std::string_view line : extra) (fields += line) += "\r\n";
    if (!c.body.empty() || c.method == "POST" || c.method == "PUT" || c.method == "PATCH") {
      fields += "Content-Length: " + std::to_string(c.body.size()) + "\r\n";
    }
    if (!c.keepAlive) fields += "Connection: close\r\n";
    for (std::string_view target : words(c.path)) {
      requests_.push_back(c.method + " " + std::string(target) + " HTTP/1.1\r\n" + fields + "\r\n" +
                          c.body);
    }
  }

  void writeRequest(uint64_t seq, Buffer& out) const override {
    out.append(requests_[seq % requests_.size()]);
  }

  // The response is parsed from its first byte each time more of it arrives (the parser is
  // one per thread and keeps its buffers); `scanned` skips calls that bring nothing new.
  Verdict readResponse(uint64_t, std::string_view in, size_t& scanned, size_t& consumed,
                       std::string& why, ResponseInfo& info) const override {
    if (in.size() <= scanned) return Verdict::kIncomplete;
    thread_local http::Parser parser(http::Role::kResponse);
    parser.reset();
    parser.expectResponseTo(head_ ? "HEAD" : "GET");
    size_t at = 0;
    bool informational = false;
    for (;;) {
      http::Event e = parser.next(in.substr(at));
      at += e.consumed;
      switch (e.type) {
        case http::Event::kHead:
          informational = parser.head().informational();
          info.status = parser.head().status;
          info.closes = !parser.head().keepAlive;
          break;
        case http::Event::kBody:
          break;
        case http::Event::kEnd:
          if (informational) break;  // 100 Continue and the like: the real response follows
          consumed = at;
          scanned = 0;
          return Verdict::kOk;
        case http::Event::kNeedData:
          scanned = in.size();
          return Verdict::kIncomplete;
        case http::Event::kClosed:
        case http::Event::kError:
          why = "bad response: " + std::string(parser.error().reason);
          return Verdict::kProtocolError;
      }
    }
  }

  bool connectionPerRequest() const override { return !keepAlive_; }

 private:
  std::vector<std::string> requests_;
  bool head_, keepAlive_;
};

Error invalid(std::string message) { return Error{EINVAL, std::move(message)}; }

}  // namespace

Status validateHttp(const LoadConfig& c) {
  if (c.method.empty()) return invalid("method must not be empty");
  for (char ch : c.method) {
    if (!http::isTokenChar(ch)) return invalid("method must be a token such as GET or POST");
  }
  std::vector<std::string_view> targets = words(c.path);
  if (targets.empty()) return invalid("path must name at least one target, such as /");
  for (std::string_view t : targets) {
    if (t.front() != '/' && t.substr(0, 7) != "http://" && t != "*") {
      return invalid("path '" + std::string(t) + "' must start with / (or be an absolute URL)");
    }
    for (char ch : t) {
      if (!http::isTargetChar(ch)) return invalid("path must be visible ASCII without spaces");
    }
  }
  for (std::string_view line : headerLines(c.headers)) {
    size_t colon = line.find(':');
    bool nameOk = colon != std::string_view::npos && colon > 0;
    for (size_t i = 0; nameOk && i < colon; ++i) nameOk = http::isTokenChar(line[i]);
    if (!nameOk) return invalid("header line '" + std::string(line) + "' is not 'Name: value'");
    for (char ch : line.substr(colon + 1)) {
      if (!http::isFieldChar(ch)) return invalid("header value with a control character");
    }
  }
  if (c.pipeline > 1 && !c.keepAlive) return invalid("pipeline needs keep_alive");
  return {};
}

std::unique_ptr<Scenario> makeHttpScenario(const LoadConfig& c) {
  return std::make_unique<HttpScenario>(c);
}

}  // namespace netlab
