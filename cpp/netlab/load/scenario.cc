#include "netlab/load/scenario.h"

#include <cstring>

#include "netlab/load/http_scenario.h"
#include "netlab/load/log_scenario.h"

namespace netlab {
namespace {

// The start of what a server sent instead, readable in an error message.
std::string printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes.substr(0, 60)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '.';
  }
  return bytes.size() > 60 ? out + "..." : out;
}

std::string expectedGot(std::string_view expected, std::string_view got) {
  return "expected '" + printable(expected) + "', got '" + printable(got) + "'";
}

// Echo: S bytes out, the same S bytes back. The first 8 bytes carry the request's sequence
// number, so a reply that is stale, duplicated or from another request is caught too.
class EchoScenario : public Scenario {
 public:
  EchoScenario(std::string payload, bool stamped)
      : payload_(std::move(payload)), stamped_(stamped) {}

  void writeRequest(uint64_t seq, Buffer& out) const override {
    char* at = out.appendSpace(payload_.size());
    std::memcpy(at, payload_.data(), payload_.size());
    if (stamped_) stamp(seq, at);
  }

  Verdict readResponse(uint64_t seq, std::string_view in, size_t&, size_t& consumed,
                       std::string& why, ResponseInfo&) const override {
    size_t n = payload_.size();
    size_t head = stamped_ ? 8 : 0;
    size_t have = std::min(in.size(), n);
    // Compare what has arrived so far: a wrong byte fails at once, not at the timeout.
    if (have > head && std::memcmp(in.data() + head, payload_.data() + head, have - head) != 0) {
      why = "echoed bytes differ from the request: " +
            expectedGot(std::string_view(payload_).substr(0, have), in.substr(0, have));
      return Verdict::kMismatch;
    }
    if (in.size() < n) return Verdict::kIncomplete;
    if (stamped_) {
      char expected[8];
      stamp(seq, expected);
      if (std::memcmp(in.data(), expected, 8) != 0) {
        uint64_t got = 0;
        for (int i = 0; i < 8; ++i) got |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
        why = "echo of another request: expected sequence number " + std::to_string(seq) +
              ", got " + std::to_string(got);
        return Verdict::kMismatch;
      }
    }
    consumed = n;
    return Verdict::kOk;
  }

 private:
  static void stamp(uint64_t seq, char* at) {
    for (int i = 0; i < 8; ++i) at[i] = static_cast<char>((seq >> (8 * i)) & 0xff);
  }

  std::string payload_;
  bool stamped_;
};

class ConnectScenario final : public EchoScenario {
 public:
  using EchoScenario::EchoScenario;
  bool connectionPerRequest() const override { return true; }
};

// Fixed bytes out, fixed bytes back: connect against servers that do not echo.
class ExactScenario final : public Scenario {
 public:
  ExactScenario(std::string request, std::string expect)
      : request_(std::move(request)), expect_(std::move(expect)) {}
  void writeRequest(uint64_t, Buffer& out) const override { out.append(request_); }
  Verdict readResponse(uint64_t, std::string_view in, size_t&, size_t& consumed, std::string& why,
                       ResponseInfo&) const override {
    size_t have = std::min(in.size(), expect_.size());
    if (in.substr(0, have) != std::string_view(expect_).substr(0, have)) {
      why = "response differs from the expected bytes: " +
            expectedGot(expect_, in.substr(0, expect_.size()));
      return Verdict::kMismatch;
    }
    if (in.size() < expect_.size()) return Verdict::kIncomplete;
    consumed = expect_.size();
    return Verdict::kOk;
  }
  bool connectionPerRequest() const override { return true; }

 private:
  std::string request_, expect_;
};

// One request frame, one response frame, both in `codec_`; lines are the LineCodec case.
class FramedScenario final : public Scenario {
 public:
  FramedScenario(std::shared_ptr<const Codec> codec, std::string payload,
                 std::optional<std::string> expect, const char* what)
      : codec_(std::move(codec)),
        payload_(std::move(payload)),
        expect_(std::move(expect)),
        what_(what) {
    FrameError unused;  // validate() already encoded it once
    codec_->encode(FrameView{payload_}, wire_, unused);
    perRequest_ = codec_->name() == "header";
  }

  void writeRequest(uint64_t seq, Buffer& out) const override {
    if (!perRequest_) {
      out.append(wire_);
      return;
    }
    std::string wire;  // the header's sequence field carries the request number
    FrameError unused;
    codec_->encode(FrameView{payload_, 0, 1, static_cast<uint32_t>(seq)}, wire, unused);
    out.append(wire);
  }

  Verdict readResponse(uint64_t, std::string_view in, size_t& scanned, size_t& consumed,
                       std::string& why, ResponseInfo&) const override {
    FrameView frame;
    ParseResult r = codec_->parse(in, scanned, frame);
    if (r.status == ParseResult::kNeedMore) {
      scanned = in.size();
      return Verdict::kIncomplete;
    }
    scanned = 0;
    if (r.status == ParseResult::kError) {
      why = "bad response " + std::string(what_) + ": " + r.error.message;
      return Verdict::kProtocolError;
    }
    consumed = r.consumed;
    const std::string* expected = expect_ ? &*expect_ : (echoed() ? &payload_ : nullptr);
    if (expected && frame.payload != *expected) {
      why = std::string(what_) +
            " differs from the expected one: " + expectedGot(*expected, frame.payload);
      return Verdict::kMismatch;
    }
    return Verdict::kOk;
  }

 private:
  bool echoed() const { return std::string_view(what_) != "line"; }

  std::shared_ptr<const Codec> codec_;
  std::string payload_;
  std::optional<std::string> expect_;
  const char* what_;
  std::string wire_;
  bool perRequest_ = false;
};

// Chat fan-out: each connection joins room (index % rooms) and sends stamped lines on the
// open-loop schedule; every line relayed back from another member is one delivery.
class ChatScenario final : public Scenario {
 public:
  ChatScenario(int rooms, size_t size, std::shared_ptr<const Codec> lines)
      : rooms_(rooms), size_(size), lines_(std::move(lines)) {}

  void writeRequest(uint64_t, Buffer&) const override {}
  Verdict readResponse(uint64_t, std::string_view, size_t&, size_t&, std::string&,
                       ResponseInfo&) const override {
    return Verdict::kProtocolError;
  }
  bool streaming() const override { return true; }

  // One room needs no command, so a plain broadcast chat server (which would relay
  // "/join" as text) is loaded exactly as netlab's own.
  void writeGreeting(int connection, Buffer& out) const override {
    if (rooms_ > 1) out.append("/join room" + std::to_string(connection % rooms_) + "\n");
  }

  void writeStamped(uint64_t seq, int64_t intendedNs, int64_t sentNs, Buffer& out) const override {
    std::string line = std::string(kStamp) + std::to_string(intendedNs) + ":" +
                       std::to_string(sentNs) + " " + std::to_string(seq) + " ";
    if (line.size() < size_) line.append(size_ - line.size(), 'c');
    line.push_back('\n');
    out.append(line);
  }

  size_t readDeliveries(std::string_view in, size_t& scanned,
                        const std::function<void(int64_t, int64_t)>& onDelivery,
                        std::string& why) const override {
    size_t consumed = 0;
    for (;;) {
      FrameView line;
      ParseResult r = lines_->parse(in.substr(consumed), scanned, line);
      if (r.status == ParseResult::kNeedMore) {
        scanned = in.size() - consumed;
        return consumed;
      }
      if (r.status == ParseResult::kError) {
        why = "delivery line: " + r.error.message;
        return consumed;
      }
      scanned = 0;
      consumed += r.consumed;
      if (line.payload.rfind("error: ", 0) == 0) {
        why = "the server said: " + std::string(line.payload);
        return consumed;
      }
      int64_t intended, sent;
      if (parseStamp(line.payload, intended, sent)) onDelivery(intended, sent);
    }
  }

 private:
  // The stamp is found anywhere in a relayed line, whatever prefix the server adds
  // ("<nick> ", "[client 5] ", none); notices and other lines have none.
  static constexpr std::string_view kStamp = "NLT";

  static bool parseStamp(std::string_view line, int64_t& intended, int64_t& sent) {
    size_t at = line.find(kStamp);
    if (at == std::string_view::npos) return false;
    const char* p = line.data() + at + kStamp.size();
    const char* end = line.data() + line.size();
    auto number = [&](int64_t& v) {
      v = 0;
      const char* start = p;
      while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
      return p > start;
    };
    if (!number(intended) || p >= end || *p++ != ':') return false;
    return number(sent);
  }

  int rooms_;
  size_t size_;
  std::shared_ptr<const Codec> lines_;
};

std::string patternPayload(size_t size) {
  std::string p(size, '\0');
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<char>('a' + i % 26);
  return p;
}

}  // namespace

Result<std::unique_ptr<Scenario>> makeScenario(const LoadConfig& c) {
  const std::string& s = c.scenario;
  if (s == "echo") {
    return std::unique_ptr<Scenario>(
        std::make_unique<EchoScenario>(patternPayload(c.size), c.size >= 8));
  }
  if (s == "connect") {
    if (c.expect) {
      std::string request = c.request.empty() ? patternPayload(c.size) : c.request;
      return std::unique_ptr<Scenario>(std::make_unique<ExactScenario>(request, *c.expect));
    }
    std::string payload = c.request.empty() ? patternPayload(c.size) : c.request;
    bool stamped = c.request.empty() && c.size >= 8;
    return std::unique_ptr<Scenario>(std::make_unique<ConnectScenario>(payload, stamped));
  }
  if (s == "line") {
    Error error;
    auto lines = makeLineCodec("\n", c.maxResponse, true, &error);
    if (!lines) return error;
    std::string request = c.request.empty() ? "ping" : c.request;
    return std::unique_ptr<Scenario>(
        std::make_unique<FramedScenario>(lines, request, c.expect, "line"));
  }
  if (s == "framed") {
    if (!c.codec) return Error{EINVAL, "the framed scenario needs a codec"};
    std::string payload = c.request.empty() ? patternPayload(c.size) : c.request;
    return std::unique_ptr<Scenario>(
        std::make_unique<FramedScenario>(c.codec, payload, c.expect, "frame"));
  }
  if (s == "http") return makeHttpScenario(c);
  if (s == "log") return makeLogScenario(c);
  if (s == "syslog") return makeSyslogScenario(c);
  if (s == "chat") {
    Error error;
    auto lines = makeLineCodec("\n", c.maxResponse, true, &error);
    if (!lines) return error;
    return std::unique_ptr<Scenario>(std::make_unique<ChatScenario>(c.rooms, c.size, lines));
  }
  return Error{EINVAL, "unknown scenario '" + s +
                           "'; valid scenarios: echo, line, framed, connect, chat, http, log, "
                           "syslog"};
}

}  // namespace netlab
