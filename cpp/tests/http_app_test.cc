#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "netlab/apps/http/http_server.h"
#include "netlab/apps/http/json.h"
#include "netlab/apps/http/routes.h"
#include "netlab/core/sha256.h"
#include "netlab/http/parser.h"
#include "recording_conn.h"

namespace netlab {
namespace {

TEST(Sha256, KnownDigestsInAnySplit) {
  Sha256 h;
  EXPECT_EQ(h.hexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string text(1000, 'a');
  for (size_t step : {1, 55, 64, 1000}) {
    for (size_t i = 0; i < text.size(); i += step) h.update(std::string_view(text).substr(i, step));
    EXPECT_EQ(h.hexDigest(), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  }
}

TEST(HttpJson, StringsAreValidJsonWhateverTheBytes) {
  std::string out;
  apps::http::appendJsonString(out, std::string("\"\\\x01\xc3\xa9\xff", 6));
  EXPECT_EQ(out, "\"\\\"\\\\\\u0001\xc3\xa9\xc3\xbf\"");  // é kept; 0xff as latin-1 ÿ
  auto args = apps::http::parseQuery("a=1&b=x+y&&a=%41%4&c");
  ASSERT_EQ(args.size(), 4u);
  EXPECT_EQ(args[2].second, "A%4");
  EXPECT_EQ(args[3].first, "c");
}

TEST(HttpRoutes, PathsMethodsAndArguments) {
  using apps::http::RouteKind;
  EXPECT_EQ(apps::http::route("GET", "/bytes/10").number, 10);
  EXPECT_EQ(apps::http::route("GET", "/bytes/x").kind, RouteKind::kBadArgument);
  EXPECT_EQ(apps::http::route("POST", "/get").kind, RouteKind::kBadMethod);
  EXPECT_EQ(apps::http::route("DELETE", "/anything/a/b").kind, RouteKind::kEcho);
  EXPECT_EQ(apps::http::route("GET", "/delay/60001").kind, RouteKind::kBadArgument);
  EXPECT_EQ(apps::http::splitTarget("http://h:1/get?a=1").first, "/get");
  EXPECT_EQ(apps::http::splitTarget("/get?a=1").second, "a=1");
}

// /stream/N's lines carry the client's address. It was viewed from a temporary that died
// before the document was written (AddressSanitizer reports the read); an IPv6 peer makes
// the address too long for the string's inline buffer, so the freed bytes are on the heap.
TEST(HttpServerRoutes, StreamLinesCarryTheClientsAddress) {
  HttpProtocol protocol{HttpOptions{}};
  std::unique_ptr<Handler> handler = protocol.newHandler();
  RecordingConn conn(1, "[2001:db8:1234:5678:9abc:def0:1234:5678]:40001");
  Buffer input;
  input.append("GET /stream/2 HTTP/1.1\r\nHost: x\r\n\r\n");
  handler->onData(conn, input);
  std::string origin = "\"origin\": \"2001:db8:1234:5678:9abc:def0:1234:5678\"";
  size_t first = conn.sent.find(origin);
  ASSERT_NE(first, std::string::npos) << conn.sent;
  EXPECT_NE(conn.sent.find(origin, first + 1), std::string::npos) << conn.sent;
  EXPECT_NE(conn.sent.find("\"id\": 1"), std::string::npos) << conn.sent;
}

TEST(HttpParser, NeedDataMayConsumeFraming) {
  // A chunk-size line is read before its data arrives: the caller must drop those bytes too.
  http::Parser p(http::Role::kRequest);
  std::string in = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  http::Event e = p.next(in);
  ASSERT_EQ(e.type, http::Event::kHead);
  e = p.next("5\r\n");
  EXPECT_EQ(e.type, http::Event::kNeedData);
  EXPECT_EQ(e.consumed, 3u);
  e = p.next("hello\r\n0\r\n\r\n");
  EXPECT_EQ(e.type, http::Event::kBody);
  EXPECT_EQ(e.body, "hello");
}

}  // namespace
}  // namespace netlab
