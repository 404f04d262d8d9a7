#include <gtest/gtest.h>

#include <string>

#include "netlab/http/chars.h"
#include "netlab/http/parser.h"

namespace netlab::http {
namespace {

// Feeds `wire` in pieces of `step` bytes (0: whole) and writes down every event, so the
// same message split differently must give the same transcript.
std::string transcript(Parser& p, std::string_view wire, size_t step = 0, bool eof = true) {
  std::string held, out;
  size_t fed = 0;
  for (;;) {
    bool last = fed >= wire.size();
    Event e = last && eof ? p.finish(held) : p.next(held);
    if (e.type == Event::kHead) {
      const Head& h = p.head();
      out += h.isRequest ? "head " + std::string(h.method) + " " + std::string(h.target)
                         : "head " + std::to_string(h.status);
      for (const Field& f : h.fields)
        out += " [" + std::string(f.name) + "=" + std::string(f.value) + "]";
      out += "|";
    } else if (e.type == Event::kBody) {
      // Adjacent pieces are joined: how a body is split depends on the feeding.
      if (out.size() >= 1 && out.rfind("body ") != std::string::npos &&
          out.rfind("body ") > out.rfind('|', out.size() - 2)) {
        out.pop_back();
        out += std::string(e.body) + "|";
      } else {
        out += "body " + std::string(e.body) + "|";
      }
    } else if (e.type == Event::kEnd) {
      out += "end";
      for (const Field& f : p.trailers())
        out += " [" + std::string(f.name) + "=" + std::string(f.value) + "]";
      out += "|";
    } else if (e.type == Event::kClosed) {
      return out + "closed";
    } else if (e.type == Event::kError) {
      return out + "error " + std::to_string(p.error().status) + " " +
             std::string(p.error().reason);
    }
    held.erase(0, e.consumed);
    if (e.type == Event::kNeedData) {
      if (last) return out + (eof ? "?" : "need");
      size_t n = step == 0 ? wire.size() - fed : std::min(step, wire.size() - fed);
      held.append(wire.substr(fed, n));
      fed += n;
    }
  }
}

std::string parseRequest(std::string_view wire, Limits limits = {}) {
  Parser whole(Role::kRequest, limits), drip(Role::kRequest, limits);
  std::string a = transcript(whole, wire), b = transcript(drip, wire, 1);
  EXPECT_EQ(a, b) << "fed whole and a byte at a time differ";
  return a;
}

std::string parseResponse(std::string_view wire, std::string_view toMethod = "GET") {
  Parser whole(Role::kResponse), drip(Role::kResponse);
  whole.expectResponseTo(toMethod);
  drip.expectResponseTo(toMethod);
  std::string a = transcript(whole, wire), b = transcript(drip, wire, 1);
  EXPECT_EQ(a, b) << "fed whole and a byte at a time differ";
  return a;
}

TEST(HttpParser, SimpleGet) {
  EXPECT_EQ(parseRequest("GET /get?a=1 HTTP/1.1\r\nHost: x\r\nAccept:  */* \r\n\r\n"),
            "head GET /get?a=1 [Host=x] [Accept=*/*]|end|closed");
}

TEST(HttpParser, PipelinedRequestsAndBodies) {
  EXPECT_EQ(
      parseRequest("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                   "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"),
      "head POST /a [Host=x] [Content-Length=5]|body hello|end|head GET /b [Host=x]|end|closed");
}

TEST(HttpParser, ChunkedWithExtensionsAndTrailers) {
  EXPECT_EQ(
      parseRequest("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5;name=value\r\nhello\r\n0006 ; a\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n"),
      "head POST / [Host=x] [Transfer-Encoding=chunked]|body hello world|end [X-Sum=1]|closed");
}

TEST(HttpParser, KeepAliveRules) {
  Parser p(Role::kRequest);
  std::string held = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(p.next(held).type, Event::kHead);
  EXPECT_FALSE(p.head().keepAlive);
  Parser q(Role::kRequest);
  held = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
  ASSERT_EQ(q.next(held).type, Event::kHead);
  EXPECT_TRUE(q.head().keepAlive);
  // After "Connection: close" the stream is over: a pipelined request behind it is not read.
  EXPECT_EQ(
      parseRequest("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n"),
      "head GET / [Host=x] [Connection=close]|end|closed");
}

TEST(HttpParser, ExpectContinueAndLeadingEmptyLines) {
  Parser p(Role::kRequest);
  std::string held =
      "\r\n\r\nPUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
  Event e = p.next(held);
  ASSERT_EQ(e.type, Event::kHead);
  EXPECT_EQ(e.consumed, held.size());
  EXPECT_TRUE(p.head().expectContinue);
  EXPECT_EQ(p.bodyRemaining(), 1);
}

TEST(HttpParser, SmugglingVectorsAre400) {
  const char* cases[] = {
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX : a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
      "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
      "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET / http/1.1\r\nHost: x\r\n\r\n",
  };
  for (const char* wire : cases) {
    std::string got = parseRequest(wire);
    EXPECT_NE(got.find("error 400"), std::string::npos) << wire << " -> " << got;
  }
  static constexpr char kNul[] = "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n";
  std::string nul(kNul, sizeof kNul - 1);  // the NUL inside counts, the terminator does not
  EXPECT_NE(parseRequest(nul).find("error 400"), std::string::npos);
}

// The fields that decide framing are recognised in any case (their names are compared a word
// at a time), and names that only look alike are other fields.
TEST(HttpParser, FramingFieldsInAnyCase) {
  EXPECT_EQ(parseRequest("POST / HTTP/1.1\r\nHOST: x\r\nCONTENT-LENGTH: 2\r\n\r\nhi"),
            "head POST / [HOST=x] [CONTENT-LENGTH=2]|body hi|end|closed");
  EXPECT_EQ(parseRequest("POST / HTTP/1.1\r\nhost: x\r\ntRANSFER-eNCODING: chunked\r\n\r\n"
                         "2\r\nhi\r\n0\r\n\r\n"),
            "head POST / [host=x] [tRANSFER-eNCODING=chunked]|body hi|end|closed");
  EXPECT_NE(parseRequest("GET / HTTP/1.1\r\nHost: x\r\nhOsT: y\r\n\r\n").find("error 400 more"),
            std::string::npos);
  EXPECT_NE(parseRequest("POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n")
                .find("error 400 both"),
            std::string::npos);
  EXPECT_EQ(
      parseRequest("GET / HTTP/1.1\r\nHost: x\r\ncOnNeCtIoN: CLOSE\r\n\r\nGET / HTTP/1.1\r\n"),
      "head GET / [Host=x] [cOnNeCtIoN=CLOSE]|end|closed");
  // Same lengths, other names: no body, no second Host, no framing.
  EXPECT_EQ(parseRequest("GET / HTTP/1.1\r\nHost: x\r\nContent_Length: 2\r\nHosT1: y\r\n"
                         "Hos~: z\r\n\r\n"),
            "head GET / [Host=x] [Content_Length=2] [HosT1=y] [Hos~=z]|end|closed");
  // A CR inside a line is named as such, wherever it is.
  EXPECT_NE(parseRequest("GET / HTTP/1.1\r\nHost: x\r\nX\rY: a\r\n\r\n").find("bare CR"),
            std::string::npos);
  EXPECT_NE(parseRequest("GET / HTTP/1.1\r\nHost: x\r\n X: a\rb\r\n\r\n").find("bare CR"),
            std::string::npos);
}

// The word-at-a-time checks agree with the byte tables for every byte value, wherever it
// falls: in a whole word, across words, or in the tail checked a byte at a time.
TEST(HttpChars, WordChecksAgreeWithTheByteTables) {
  for (size_t size : {1, 7, 8, 9, 16, 19}) {
    for (size_t at = 0; at < size; ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string s(size, 'a');
        s[at] = static_cast<char>(b);
        EXPECT_EQ(allFieldChars(s), isFieldChar(s[at])) << "byte " << b << " at " << at;
        EXPECT_EQ(allTargetChars(s), isTargetChar(s[at])) << "byte " << b << " at " << at;
        s[size - 1 - at] = '\x80';  // obs-text: a field's, not a target's
        EXPECT_EQ(allFieldChars(s), isFieldChar(s[at])) << "byte " << b << " at " << at;
        EXPECT_FALSE(allTargetChars(s));
      }
    }
  }
  EXPECT_TRUE(allFieldChars(""));
  EXPECT_TRUE(allFieldChars("text/html; charset=utf-8\tq=1 \xc3\xa9"));
  EXPECT_TRUE(allTargetChars("/get?a=1&b=%20~"));
}

TEST(HttpParser, VersionsAndCodings) {
  EXPECT_NE(parseRequest("GET / HTTP/2.0\r\nHost: x\r\n\r\n").find("error 505"), std::string::npos);
  EXPECT_NE(parseRequest("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
                .find("error 501"),
            std::string::npos);
  EXPECT_EQ(parseRequest("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), "head GET / [Host=x]|end|closed");
}

TEST(HttpParser, LimitsGive414And431) {
  std::string longTarget = "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_NE(parseRequest(longTarget).find("error 414"), std::string::npos);
  std::string longLine = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_NE(parseRequest(longLine).find("error 431"), std::string::npos);
  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_NE(parseRequest(many + "\r\n").find("error 431"), std::string::npos);
  std::string big = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 20; ++i)
    big += "X-" + std::to_string(i) + ": " + std::string(4000, 'v') + "\r\n";
  EXPECT_NE(parseRequest(big + "\r\n").find("error 431"), std::string::npos);
  // A line past the limit is refused before its end arrives: memory stays bounded.
  Parser p(Role::kRequest);
  std::string endless = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(8300, 'a');
  EXPECT_EQ(p.next(endless).type, Event::kError);
  EXPECT_EQ(p.error().status, 431);
}

TEST(HttpParser, ResponseFraming) {
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
            "head 200 [Content-Length=2]|body hi|end|closed");
  EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "HEAD"),
            "head 200 [Content-Length=2]|end|closed");
  EXPECT_EQ(parseResponse("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304\r\n\r\n"),
            "head 204|end|head 304|end|closed");
  EXPECT_EQ(parseResponse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nuntil close"),
            "head 100|end|head 200|body until close|end|closed");
  EXPECT_EQ(
      parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"),
      "head 200 [Transfer-Encoding=chunked]|body hi|end|closed");
  EXPECT_NE(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi").find("error 502"),
            std::string::npos);
  EXPECT_NE(parseResponse("HTTP/1.1 2000 OK\r\n\r\n").find("error 502"), std::string::npos);
}

// Responses to HEAD carry no body whatever their Content-Length, so the parser must pair
// each response with its request in order, also while more requests are announced between
// responses (the load generator's pipelining), past the point where the queue compacts.
TEST(HttpParser, PipelinedResponsesPairWithTheirRequestsInOrder) {
  Parser p(Role::kResponse);
  auto isHead = [](int i) { return i % 3 == 0; };
  int announced = 0, answered = 0;
  auto announce = [&](int n) {
    for (int i = 0; i < n; ++i) p.expectResponseTo(isHead(announced++) ? "HEAD" : "GET");
  };
  auto answer = [&](int n) {
    std::string wire;
    for (int i = 0; i < n; ++i) {
      wire += "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
      if (!isHead(answered + i)) wire += "hi";
    }
    std::string_view rest = wire;
    for (int i = 0; i < n; ++i, ++answered) {
      std::string seen;
      for (;;) {
        Event e = p.next(rest);
        rest.remove_prefix(e.consumed);
        ASSERT_NE(e.type, Event::kError) << p.error().reason << " at response " << answered;
        ASSERT_NE(e.type, Event::kNeedData) << "response " << answered << " cut short";
        if (e.type == Event::kBody) seen += std::string(e.body);
        if (e.type == Event::kEnd) break;
      }
      EXPECT_EQ(seen, isHead(answered) ? "" : "hi") << "response " << answered;
    }
    EXPECT_TRUE(rest.empty());
  };
  announce(100);
  answer(80);  // past 64 answered, the queue compacts
  announce(100);
  answer(110);
  announce(3);
  answer(13);
  EXPECT_EQ(announced, answered);
}

TEST(HttpParser, EndOfStream) {
  Parser p(Role::kRequest);
  EXPECT_EQ(transcript(p, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /", 0, true),
            "head GET / [Host=x]|end|error 400 connection closed before the message was complete");
  Parser q(Role::kRequest);
  EXPECT_EQ(transcript(q, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /", 0, false),
            "head GET / [Host=x]|end|need");
}

}  // namespace
}  // namespace netlab::http
