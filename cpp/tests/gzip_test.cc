// HttpProxy's gzip: who gets it (Accept-Encoding with q-values, type, length, status), what the
// response head says then, and that the stream, fed piece by piece, inflates to the body.
#include "netlab/apps/http_proxy/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>
#include <string>

#include "netlab/apps/http_proxy/rewrite.h"
#include "netlab/http/parser.h"

namespace netlab::apps::proxy {
namespace {

using netlab::http::Parser;
using netlab::http::Role;

// A parser holding `text`'s head (the head's views point into the parser).
std::unique_ptr<Parser> parsed(Role role, const std::string& text) {
  auto p = std::make_unique<Parser>(role);
  auto e = p->next(text);
  EXPECT_EQ(e.type, netlab::http::Event::kHead) << text;
  return p;
}

bool accepts(const std::string& acceptEncoding) {
  return acceptsGzip(parsed(Role::kRequest, "GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: " +
                                                acceptEncoding + "\r\n\r\n")
                         ->head());
}

std::string inflateAll(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(gz.size() * 20 + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

GzipPolicy policy() { return {true, 1, 256, parseGzipTypes("text/* application/json").value()}; }

TEST(GzipTest, AcceptEncodingWithQValues) {
  EXPECT_TRUE(accepts("gzip"));
  EXPECT_TRUE(accepts("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(accepts("x-gzip"));
  EXPECT_TRUE(accepts("br;q=1, *;q=0.1"));
  EXPECT_FALSE(accepts("gzip;q=0"));
  EXPECT_FALSE(accepts("gzip;q=0.000, *"));  // named with q=0: "*" does not bring it back
  EXPECT_FALSE(accepts("*;q=0"));
  EXPECT_FALSE(accepts("br, deflate"));
  EXPECT_FALSE(accepts("gzip;q=2"));  // not a q-value
  EXPECT_FALSE(accepts("identity"));
  EXPECT_FALSE(acceptsGzip(parsed(Role::kRequest, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")->head()));
}

TEST(GzipTest, OnlyListedTypesLongEnoughUnencodedAndTransformable) {
  auto should = [](const std::string& fields, bool toHead = false, bool accepts = true) {
    auto p = parsed(Role::kResponse, "HTTP/1.1 200 OK\r\n" + fields + "\r\n");
    return shouldGzip(policy(), accepts, toHead, p->head());
  };
  EXPECT_TRUE(should("Content-Type: application/json\r\nContent-Length: 1000\r\n"));
  EXPECT_TRUE(should("Content-Type: Text/HTML; charset=utf-8\r\nContent-Length: 1000\r\n"));
  EXPECT_TRUE(should("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"));
  EXPECT_FALSE(should("Content-Type: application/json\r\nContent-Length: 100\r\n"));
  EXPECT_FALSE(should("Content-Type: image/png\r\nContent-Length: 1000\r\n"));
  EXPECT_FALSE(should("Content-Length: 1000\r\n"));
  EXPECT_FALSE(
      should("Content-Type: text/plain\r\nContent-Encoding: br\r\nContent-Length: 1000\r\n"));
  EXPECT_FALSE(
      should("Content-Type: text/plain\r\nCache-Control: public, no-transform\r\n"
             "Content-Length: 1000\r\n"));
  EXPECT_FALSE(should("Content-Type: text/plain\r\nContent-Length: 1000\r\n", /*toHead=*/true));
  EXPECT_FALSE(should("Content-Type: text/plain\r\nContent-Length: 1000\r\n", false, false));
  auto p304 =
      parsed(Role::kResponse, "HTTP/1.1 304 Not Modified\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_FALSE(shouldGzip(policy(), true, false, p304->head()));
  EXPECT_FALSE(parseGzipTypes("text").ok());
  EXPECT_FALSE(parseGzipTypes("/json").ok());
}

TEST(GzipTest, TheHeadLosesItsLengthGainsTheEncodingAndVaryAndWeakensTheEtag) {
  auto p = parsed(Role::kResponse,
                  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n"
                  "ETag: \"abc\"\r\nVary: Cookie\r\n\r\n");
  std::string out;
  EXPECT_EQ(appendClientResponse(out, p->head(), false, false, false, true),
            ClientFraming::kChunked);
  EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
  EXPECT_NE(out.find("Content-Encoding: gzip\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Vary: Cookie, Accept-Encoding\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("ETag: W/\"abc\"\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << out;
  out.clear();  // an HTTP/1.0 client: the end of the body is the end of the connection
  EXPECT_EQ(appendClientResponse(out, p->head(), false, true, false, true),
            ClientFraming::kUntilClose);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << out;
}

TEST(GzipTest, PiecesInflateToTheWholeBodyAtEveryLevel) {
  std::string body;
  for (int i = 0; body.size() < 300000; ++i) body += "{\"line\": " + std::to_string(i) + "}\n";
  for (int level : {1, 6, 9}) {
    GzipStream gz;
    ASSERT_TRUE(gz.begin(level, -1));
    std::string out;
    for (size_t at = 0; at < body.size(); at += 7000) {
      ASSERT_TRUE(gz.compress(std::string_view(body).substr(at, 7000), out));
      if (at % 21000 == 0) {  // an upstream read's end: what was kept back goes out
        size_t before = out.size();
        ASSERT_TRUE(gz.flush(out));
        EXPECT_GT(out.size(), before);
        EXPECT_EQ(out.compare(out.size() - 4, 4, std::string("\0\0\xff\xff", 4)), 0)
            << "a sync flush ends on an empty stored block";
        ASSERT_TRUE(gz.flush(out));  // nothing given since: nothing to add
      }
    }
    ASSERT_TRUE(gz.finish(out));
    EXPECT_FALSE(gz.active());
    EXPECT_LT(out.size(), body.size() / 3) << level;
    EXPECT_EQ(inflateAll(out), body) << level;
  }
  GzipStream small;  // a known small length takes a small window, and still round-trips
  ASSERT_TRUE(small.begin(1, 300));
  std::string out;
  ASSERT_TRUE(small.compress(body.substr(0, 300), out));
  ASSERT_TRUE(small.finish(out));
  EXPECT_EQ(inflateAll(out), body.substr(0, 300));
}

}  // namespace
}  // namespace netlab::apps::proxy
