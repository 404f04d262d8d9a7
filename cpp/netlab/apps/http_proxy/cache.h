// HttpProxy's response cache: complete responses to GET in memory, shared by every loop
// thread, bounded in bytes with least-recently-used eviction (nginx's proxy_cache, kept in
// memory). An entry is found by its key (Host and target) and then, among the variants the
// key has, by the request fields its response's Vary names. While one request fetches a key
// nobody has, the others for that key wait for it (nginx's proxy_cache_lock) and are told
// when it has been stored or given up.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netlab/http/message.h"

namespace netlab {

/// One stored response. Immutable once stored: a revalidation stores a new one.
struct StoredResponse {
  int status = 200;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> fields;  // end-to-end, as received
  std::string body;
  std::vector<std::string> varyNames;   // lower case
  std::vector<std::string> varyValues;  // the request's values of those, "" when absent
  int64_t lifetimeNs = 0;               // freshness lifetime
  int64_t ageAtStoreNs = 0;             // the age it had when it arrived
  int64_t storedNs = 0;                 // monotonic
  bool alwaysRevalidate = false;        // no-cache: never served without asking the upstream

  std::string_view field(std::string_view name) const;
  int64_t ageNs(int64_t nowNs) const { return ageAtStoreNs + (nowNs - storedNs); }
  bool fresh(int64_t nowNs) const { return !alwaysRevalidate && ageNs(nowNs) < lifetimeNs; }
  size_t bytes() const;
  /// The request's values of the fields this response varies by match those it was stored for.
  bool matches(const netlab::http::Head& request) const;
};

/// The request's values of `names`, as a stored response's Vary keeps them.
std::vector<std::string> varyValuesOf(const netlab::http::Head& request,
                                      const std::vector<std::string>& names);

class ResponseCache {
 public:
  struct Counts {
    std::atomic<uint64_t> hits{0}, misses{0}, revalidations{0}, bypasses{0}, evictions{0};
  };

  ResponseCache(size_t maxBytes, size_t maxEntryBytes)
      : maxBytes_(maxBytes), maxEntryBytes_(maxEntryBytes) {}

  size_t maxEntryBytes() const { return maxEntryBytes_; }

  /// A fetch older than this no longer holds others back: the next request for its key
  /// fetches instead (nginx's proxy_cache_lock_age), so a client that stops reading cannot
  /// keep a key from being served.
  static constexpr int64_t kFetchAgeNs = int64_t{5} * 1'000'000'000;

  enum class Found { kEntry, kFetch, kWait, kMiss };
  /// The variant of `key` that matches `request` (kEntry, fresh or not: the caller decides).
  /// Else, without `wake`, kMiss; with it, kFetch: the caller is now fetching the key, under
  /// `fetch` (a token), and must end with store() or abandon(); or kWait: someone else is,
  /// and `wake` runs (on their thread) once they are done.
  Found find(const std::string& key, const netlab::http::Head& request,
             std::shared_ptr<const StoredResponse>& entry, std::function<void()> wake,
             uint64_t* fetch = nullptr, int64_t nowNs = 0);

  /// Stores `response` under `key`, replacing the variant it matches and any that vary by
  /// other fields (the upstream changed its Vary), unless it is larger than the per-entry
  /// bound. With the token of the fetch of `key` (0: none), ends that fetch.
  void store(const std::string& key, std::shared_ptr<const StoredResponse> response,
             uint64_t fetch = 0);
  /// A revalidated copy of `stale`, stored only if `stale` is still what the cache holds for
  /// it (a newer response stored meanwhile wins); false when it was not.
  bool refresh(const std::string& key, const StoredResponse* stale,
               std::shared_ptr<const StoredResponse> refreshed);
  /// Ends the fetch `fetch` of `key` without storing: its waiters go to the upstream.
  void abandon(const std::string& key, uint64_t fetch);

  /// Drops every variant of `key` (a POST, PUT, PATCH or DELETE there succeeded: RFC 9111
  /// §4.4).
  void invalidate(const std::string& key);
  /// Drops the entries whose target is `target` (every host), or all with an empty one.
  size_t purge(std::string_view target);

  size_t bytes() const;
  size_t entries() const;
  Counts& counts() { return counts_; }

 private:
  struct Node {
    std::string key;
    std::shared_ptr<const StoredResponse> response;
    size_t bytes;
  };
  using Lru = std::list<Node>;  // most recently used first

  struct Fetch {
    uint64_t token = 0;
    int64_t startedNs = 0;
    std::vector<std::function<void()>> waiters;
  };

  void removeLocked(Lru::iterator it);
  void insertLocked(const std::string& key, std::shared_ptr<const StoredResponse> response);
  std::vector<std::function<void()>> endFetchLocked(const std::string& key, uint64_t fetch);

  const size_t maxBytes_, maxEntryBytes_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string, std::vector<Lru::iterator>> variants_;
  std::unordered_map<std::string, Fetch> fetching_;
  uint64_t nextFetch_ = 1;
  size_t bytes_ = 0;
  Counts counts_;
};

/// The cache key of a request: its Host and its target.
std::string cacheKey(const netlab::http::Head& request);

}  // namespace netlab
