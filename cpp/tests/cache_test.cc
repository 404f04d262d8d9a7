// The response cache below the proxy: RFC 9111's rules read from heads (cache_policy.h), and
// the store (cache.h): variants by Vary, the byte bound and LRU eviction, the per-entry bound,
// and the fetch one request makes while the others for its key wait.
#include "netlab/apps/http_proxy/cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "netlab/apps/http_proxy/cache_policy.h"
#include "netlab/http/parser.h"

namespace netlab {
namespace {

using netlab::http::Parser;
using netlab::http::Role;

std::unique_ptr<Parser> parsed(Role role, const std::string& text) {
  auto p = std::make_unique<Parser>(role);
  EXPECT_EQ(p->next(text).type, netlab::http::Event::kHead) << text;
  return p;
}

std::unique_ptr<Parser> request(const std::string& fields = "") {
  return parsed(Role::kRequest, "GET /x HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n");
}

std::unique_ptr<Parser> response(const std::string& fields, int status = 200) {
  return parsed(Role::kResponse, "HTTP/1.1 " + std::to_string(status) + " X\r\n" + fields +
                                     "Content-Length: 0\r\n\r\n");
}

std::shared_ptr<StoredResponse> entry(size_t bodySize, std::vector<std::string> varyNames = {},
                                      std::vector<std::string> varyValues = {}) {
  auto r = std::make_shared<StoredResponse>();
  r->body.assign(bodySize, 'b');
  r->varyNames = std::move(varyNames);
  r->varyValues = std::move(varyValues);
  r->lifetimeNs = int64_t{60} * 1'000'000'000;
  return r;
}

TEST(CachePolicyTest, CacheControlDirectivesAndPragma) {
  auto r = response(
      "Cache-Control: public, max-age=\"30\", s-maxage=10\r\n"
      "Cache-Control: no-cache=\"Set-Cookie, X\", must-revalidate\r\n");
  CacheControl cc = parseCacheControl(r->head());
  EXPECT_TRUE(cc.isPublic && cc.noCache && cc.mustRevalidate);
  EXPECT_FALSE(cc.noStore || cc.isPrivate);
  EXPECT_EQ(cc.maxAge, 30);
  EXPECT_EQ(cc.sMaxAge, 10);
  EXPECT_EQ(freshnessLifetime(r->head(), cc), 10);  // s-maxage wins in a shared cache
  EXPECT_EQ(parseCacheControl(response("Cache-Control: max-age=abc\r\n")->head()).maxAge, 0);
  EXPECT_TRUE(parseCacheControl(request("Pragma: no-cache\r\n")->head()).noCache);
  EXPECT_FALSE(
      parseCacheControl(request("Pragma: no-cache\r\nCache-Control: max-age=5\r\n")->head())
          .noCache);
}

TEST(CachePolicyTest, DatesExpiresAndAge) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_FALSE(parseHttpDate("0").has_value());
  EXPECT_FALSE(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT trailing").has_value());
  auto r =
      response("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nExpires: Sun, 06 Nov 1994 08:50:37 GMT\r\n");
  EXPECT_EQ(freshnessLifetime(r->head(), parseCacheControl(r->head())), 60);
  EXPECT_EQ(initialAge(r->head(), 784111777 + 5), 5);
  auto bad = response("Expires: 0\r\n");
  EXPECT_EQ(freshnessLifetime(bad->head(), parseCacheControl(bad->head())), 0);
  auto none = response("ETag: \"a\"\r\n");
  EXPECT_FALSE(freshnessLifetime(none->head(), parseCacheControl(none->head())).has_value());
  EXPECT_EQ(initialAge(response("Age: 100\r\n")->head(), 0), 100);
}

TEST(CachePolicyTest, WhatASharedCacheMayStore) {
  auto req = request();
  auto ok = [&](const std::string& fields, int status = 200) {
    auto r = response(fields, status);
    return storable(req->head(), r->head(), parseCacheControl(r->head()));
  };
  EXPECT_TRUE(ok("Cache-Control: max-age=60\r\n"));
  EXPECT_TRUE(ok("Cache-Control: max-age=60\r\n", 404));
  EXPECT_TRUE(ok("Cache-Control: no-cache\r\nETag: \"a\"\r\n"));
  EXPECT_FALSE(ok("Cache-Control: max-age=60\r\n", 206));
  EXPECT_FALSE(ok("Cache-Control: max-age=60\r\n", 500));
  EXPECT_FALSE(ok("Cache-Control: no-store, max-age=60\r\n"));
  EXPECT_FALSE(ok("Cache-Control: private, max-age=60\r\n"));
  EXPECT_FALSE(ok("Cache-Control: max-age=60\r\nVary: Accept, *\r\n"));
  EXPECT_FALSE(ok("Cache-Control: max-age=60\r\nVary: Accept\r\nVary: *\r\n"));
  EXPECT_FALSE(ok("Cache-Control: max-age=60\r\nSet-Cookie: a=1\r\n"));
  EXPECT_FALSE(ok("ETag: \"a\"\r\n"));  // nothing said about freshness: no heuristics
  auto auth = request("Authorization: Bearer x\r\n");
  auto r = response("Cache-Control: max-age=60\r\n");
  EXPECT_FALSE(storable(auth->head(), r->head(), parseCacheControl(r->head())));
  auto pub = response("Cache-Control: public, max-age=60\r\n");
  EXPECT_TRUE(storable(auth->head(), pub->head(), parseCacheControl(pub->head())));
}

TEST(CachePolicyTest, IfNoneMatchComparesWeakly) {
  EXPECT_TRUE(noneMatchHits("\"a\"", "\"a\""));
  EXPECT_TRUE(noneMatchHits("W/\"a\"", "\"a\""));
  EXPECT_TRUE(noneMatchHits("\"x\", W/\"a\"", "W/\"a\""));
  EXPECT_TRUE(noneMatchHits("*", "\"a\""));
  EXPECT_FALSE(noneMatchHits("\"b\"", "\"a\""));
  EXPECT_FALSE(noneMatchHits("\"a\"", ""));
}

TEST(ResponseCacheTest, VariantsByVaryAndKeysByHostAndTarget) {
  ResponseCache cache(1 << 20, 1 << 20);
  auto en = request("Accept-Language: en\r\n");
  auto fr = request("Accept-Language: fr\r\n");
  EXPECT_EQ(cacheKey(en->head()), "a\n/x");
  std::shared_ptr<const StoredResponse> found;
  uint64_t fetch = 0;
  EXPECT_EQ(cache.find(
                "k", en->head(), found, [] {}, &fetch),
            ResponseCache::Found::kFetch);
  cache.store("k", entry(10, {"accept-language"}, {"en"}), fetch);
  EXPECT_EQ(cache.find("k", en->head(), found, nullptr), ResponseCache::Found::kEntry);
  EXPECT_EQ(cache.find("k", fr->head(), found, nullptr), ResponseCache::Found::kMiss);
  cache.store("k", entry(20, {"accept-language"}, {"fr"}));
  cache.store("k", entry(30, {"accept-language"}, {"fr"}));  // replaces its variant
  EXPECT_EQ(cache.entries(), 2u);
  ASSERT_EQ(cache.find("k", fr->head(), found, nullptr), ResponseCache::Found::kEntry);
  EXPECT_EQ(found->body.size(), 30u);
  cache.invalidate("k");
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ResponseCacheTest, BoundedInBytesLeastRecentlyUsedFirstAndPerEntry) {
  auto req = request();
  size_t one = entry(10'000)->bytes() + 2 * 2;  // and its key, "k0" to "k3", held twice
  ResponseCache cache(3 * one, 50'000);
  std::shared_ptr<const StoredResponse> found;
  for (int i = 0; i < 3; ++i) cache.store("k" + std::to_string(i), entry(10'000));
  EXPECT_EQ(cache.find("k0", req->head(), found, nullptr), ResponseCache::Found::kEntry);
  cache.store("k3", entry(10'000));  // k1 is the least recently used now
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_LE(cache.bytes(), 3 * one);
  EXPECT_EQ(cache.counts().evictions.load(), 1u);
  EXPECT_EQ(cache.find("k1", req->head(), found, nullptr), ResponseCache::Found::kMiss);
  EXPECT_EQ(cache.find("k0", req->head(), found, nullptr), ResponseCache::Found::kEntry);
  cache.store("big", entry(60'000));  // past the per-entry bound: not stored
  EXPECT_EQ(cache.find("big", req->head(), found, nullptr), ResponseCache::Found::kMiss);
  EXPECT_EQ(cache.purge("/x"), 0u);
  EXPECT_EQ(cache.purge(""), 3u);
}

TEST(ResponseCacheTest, OneFetchPerKeyTheOthersWaitAndAreWoken) {
  ResponseCache cache(1 << 20, 1 << 20);
  auto req = request();
  std::shared_ptr<const StoredResponse> found;
  int woken = 0;
  auto wake = [&] { ++woken; };
  uint64_t first = 0, second = 0;
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &first, 0), ResponseCache::Found::kFetch);
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &second, 1), ResponseCache::Found::kWait);
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &second, 2), ResponseCache::Found::kWait);
  cache.abandon("k", first + 100);  // not this fetch's token: nothing ends
  cache.store("k2", entry(5));      // a store that fetched nothing ends no fetch either
  EXPECT_EQ(woken, 0);
  cache.abandon("k", first);  // the fetch failed: the waiters go on by themselves
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &first, 3), ResponseCache::Found::kFetch);
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &second, 4), ResponseCache::Found::kWait);
  cache.store("k", entry(5), first);
  EXPECT_EQ(woken, 3);
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &second, 5), ResponseCache::Found::kEntry);
}

// nginx's proxy_cache_lock_age: a fetch that takes too long (a client that stopped reading)
// no longer holds the key; the next request fetches, and the old fetch's end ends nothing.
// Who waited for the old one is told at once, not kept with the new one's waiters.
TEST(ResponseCacheTest, ASlowFetchIsTakenOverAfterItsAge) {
  ResponseCache cache(1 << 20, 1 << 20);
  auto req = request();
  std::shared_ptr<const StoredResponse> found;
  int woken = 0;
  auto wake = [&] { ++woken; };
  uint64_t slow = 0, next = 0;
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &slow, 0), ResponseCache::Found::kFetch);
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &next, ResponseCache::kFetchAgeNs - 1),
            ResponseCache::Found::kWait);
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &next, ResponseCache::kFetchAgeNs),
            ResponseCache::Found::kFetch);
  EXPECT_NE(slow, next);
  EXPECT_EQ(woken, 1);  // the slow fetch's waiter
  uint64_t unused = 0;
  EXPECT_EQ(cache.find("k", req->head(), found, wake, &unused, ResponseCache::kFetchAgeNs + 1),
            ResponseCache::Found::kWait);
  cache.abandon("k", slow);
  EXPECT_EQ(woken, 1);
  cache.abandon("k", next);
  EXPECT_EQ(woken, 2);
}

// Fetches that each overrun their age, one after another, as requests keep coming for a key
// whose response is slow and never stored: the waiters held stay those of the current fetch.
TEST(ResponseCacheTest, OverrunningFetchesKeepOnlyTheCurrentWaiters) {
  ResponseCache cache(1 << 20, 1 << 20);
  auto req = request();
  std::shared_ptr<const StoredResponse> found;
  int woken = 0, waiting = 0;
  auto wake = [&] { ++woken; };
  uint64_t token = 0;
  int64_t now = 0;
  for (int round = 0; round < 100; ++round) {
    EXPECT_EQ(cache.find("k", req->head(), found, wake, &token, now), ResponseCache::Found::kFetch);
    for (int i = 0; i < 10; ++i) {
      now += ResponseCache::kFetchAgeNs / 20;
      EXPECT_EQ(cache.find("k", req->head(), found, wake, &token, now),
                ResponseCache::Found::kWait);
      ++waiting;
    }
    now += ResponseCache::kFetchAgeNs / 2;  // past the age: the next request takes over
  }
  EXPECT_EQ(woken, waiting - 10);  // all but the last fetch's ten were told
}

TEST(ResponseCacheTest, ANewVaryReplacesTheOldVariantsAndRefreshYieldsToNewerResponses) {
  ResponseCache cache(1 << 20, 1 << 20);
  auto en = request("Accept-Language: en\r\n");
  std::shared_ptr<const StoredResponse> found;
  cache.store("k", entry(10));  // no Vary: matches every request
  cache.store("k", entry(20, {"accept-language"}, {"en"}));
  EXPECT_EQ(cache.entries(), 1u) << "the upstream's Vary changed: the old variant goes";
  ASSERT_EQ(cache.find("k", en->head(), found, nullptr), ResponseCache::Found::kEntry);
  EXPECT_EQ(found->body.size(), 20u);
  auto stale = found;
  cache.store("k", entry(30, {"accept-language"}, {"en"}));  // another client's newer 200
  EXPECT_FALSE(cache.refresh("k", stale.get(), entry(20, {"accept-language"}, {"en"})));
  ASSERT_EQ(cache.find("k", en->head(), found, nullptr), ResponseCache::Found::kEntry);
  EXPECT_EQ(found->body.size(), 30u);
  EXPECT_TRUE(cache.refresh("k", found.get(), entry(40, {"accept-language"}, {"en"})));
  ASSERT_EQ(cache.find("k", en->head(), found, nullptr), ResponseCache::Found::kEntry);
  EXPECT_EQ(found->body.size(), 40u);
  EXPECT_EQ(cache.entries(), 1u);
}

}  // namespace
}  // namespace netlab
