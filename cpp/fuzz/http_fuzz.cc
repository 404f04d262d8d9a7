// libFuzzer target for the HTTP/1.1 parser. The first byte picks requests or responses (and
// whether the next response answers HEAD) and a small set of limits; the next two seed the
// chunking; the rest is the stream. Beyond "no crash, no leak, no UB", the parser must agree
// with itself (events and error status) whether the stream arrives whole or in arbitrary
// pieces, must never consume
// more than it was given, and must keep its held input within its limits.
#include <cstddef>
#include <cstdint>
#include <string>

#include "netlab/http/parser.h"

namespace {

using netlab::http::Event;
using netlab::http::Parser;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Setup {
  netlab::http::Role role;
  bool toHead;
  netlab::http::Limits limits;
};

Setup setupOf(uint8_t b) {
  Setup s{(b & 1) ? netlab::http::Role::kResponse : netlab::http::Role::kRequest, (b & 2) != 0, {}};
  if (b & 4) s.limits = {4, 64, 256};  // small limits, so the fuzzer reaches their edges
  return s;
}

// Every event, with adjacent body pieces joined (their split depends on the feeding).
std::string parse(const Setup& s, std::string_view stream, uint32_t seed) {
  Parser p(s.role, s.limits);
  for (int i = 0; i < 4; ++i) p.expectResponseTo(s.toHead && i == 0 ? "HEAD" : "GET");
  std::string held, out;
  size_t fed = 0;
  size_t bound = s.limits.maxHead + s.limits.maxLine + 4;
  for (;;) {
    bool last = fed >= stream.size();
    Event e = last ? p.finish(held) : p.next(held);
    check(e.consumed <= held.size());
    switch (e.type) {
      case Event::kHead:
        out += "H" + std::string(p.head().isRequest ? p.head().target : p.head().reason) + "|" +
               std::to_string(p.head().fields.size()) + "|";
        break;
      case Event::kBody:
        check(!e.body.empty() && e.body.data() >= held.data() &&
              e.body.data() + e.body.size() <= held.data() + held.size());
        out += e.body;
        break;
      case Event::kEnd:
        out += "E" + std::to_string(p.trailers().size()) + "|";
        break;
      case Event::kClosed:
        return out + "C";
      case Event::kError:
        check(p.next(held).type == Event::kError);  // stays failed
        // The status, not the reason: when a head breaks two limits at once (too long a
        // line and too large a head), which one is seen first depends on the split.
        return out + "X" + std::to_string(p.error().status);
      case Event::kNeedData:
        break;
    }
    held.erase(0, e.consumed);
    if (e.type != Event::kNeedData) continue;
    check(held.size() <= bound + 97);  // nothing unbounded is kept waiting for more
    if (last) return out + "?";
    seed = seed * 1103515245u + 12345u;
    size_t take = seed == 0 ? stream.size() - fed
                            : std::min<size_t>(stream.size() - fed, 1 + (seed >> 16) % 97);
    held.append(stream.substr(fed, take));
    fed += take;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  Setup s = setupOf(data[0]);
  uint32_t seed = data[1] | (data[2] << 8);
  std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::string whole = parse(s, stream, 0);
  check(parse(s, stream, seed | 1) == whole);
  return 0;
}
