#include "netlab/apps/http_proxy/cache.h"

#include <algorithm>

namespace netlab {
namespace {

constexpr size_t kEntryOverhead = 256;  // the node, the maps' slots, the strings' headers

// The target part of a key ("host\ntarget").
std::string_view targetOf(std::string_view key) {
  size_t nl = key.find('\n');
  return nl == std::string_view::npos ? key : key.substr(nl + 1);
}

}  // namespace

std::string_view StoredResponse::field(std::string_view name) const {
  for (const auto& [n, v] : fields) {
    if (netlab::http::equalsIgnoreCase(n, name)) return v;
  }
  return {};
}

size_t StoredResponse::bytes() const {
  size_t n = kEntryOverhead + reason.size() + body.size();
  for (const auto& [name, value] : fields) n += name.size() + value.size() + 4;
  for (const auto& v : varyValues) n += v.size();
  return n;
}

bool StoredResponse::matches(const netlab::http::Head& request) const {
  return varyValuesOf(request, varyNames) == varyValues;
}

std::vector<std::string> varyValuesOf(const netlab::http::Head& request,
                                      const std::vector<std::string>& names) {
  std::vector<std::string> values;
  values.reserve(names.size());
  for (const std::string& name : names) {
    std::string joined;  // every field of that name, in order (RFC 9111 §4.1)
    for (const netlab::http::Field& f : request.fields) {
      if (netlab::http::equalsIgnoreCase(f.name, name)) {
        (joined += joined.empty() ? "" : ", ") += f.value;
      }
    }
    values.push_back(std::move(joined));
  }
  return values;
}

std::string cacheKey(const netlab::http::Head& request) {
  const netlab::http::Field* host = request.find("host");
  std::string key(host ? host->value : "");
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  (key += '\n') += request.target;
  return key;
}

ResponseCache::Found ResponseCache::find(const std::string& key, const netlab::http::Head& request,
                                         std::shared_ptr<const StoredResponse>& entry,
                                         std::function<void()> wake, uint64_t* fetch,
                                         int64_t nowNs) {
  std::vector<std::function<void()>> overdue;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = variants_.find(key); it != variants_.end()) {
      for (auto node = it->second.rbegin(); node != it->second.rend(); ++node) {  // newest first
        if (!(*node)->response->matches(request)) continue;
        lru_.splice(lru_.begin(), lru_, *node);
        entry = (*node)->response;
        return Found::kEntry;
      }
    }
    if (!wake) return Found::kMiss;
    auto [it, first] = fetching_.try_emplace(key);
    Fetch& f = it->second;
    if (!first && nowNs - f.startedNs < kFetchAgeNs) {
      f.waiters.push_back(std::move(wake));
      return Found::kWait;
    }
    // None, or one too slow to wait for. Its waiters' wait is over too (they stop waiting
    // at the same age): told now, since that fetch's end no longer ends this one, and a key
    // whose fetches keep overrunning would otherwise keep every waiter it ever had.
    overdue.swap(f.waiters);
    f.token = nextFetch_++;
    f.startedNs = nowNs;
    if (fetch) *fetch = f.token;
  }
  for (auto& late : overdue) late();
  return Found::kFetch;
}

void ResponseCache::insertLocked(const std::string& key,
                                 std::shared_ptr<const StoredResponse> response) {
  if (response->bytes() > maxEntryBytes_ + kEntryOverhead) return;
  size_t size = response->bytes() + 2 * key.size();  // the key: in the node and the map
  if (size > maxBytes_) return;
  if (auto it = variants_.find(key); it != variants_.end()) {
    std::vector<Lru::iterator> old = it->second;  // removeLocked edits the list
    for (Lru::iterator node : old) {
      const StoredResponse& r = *node->response;
      if (r.varyNames != response->varyNames || r.varyValues == response->varyValues) {
        removeLocked(node);
      }
    }
  }
  lru_.push_front({key, std::move(response), size});
  variants_[key].push_back(lru_.begin());
  bytes_ += size;
  while (bytes_ > maxBytes_ && !lru_.empty()) {
    removeLocked(std::prev(lru_.end()));
    counts_.evictions.fetch_add(1, std::memory_order_relaxed);
  }
}

void ResponseCache::store(const std::string& key, std::shared_ptr<const StoredResponse> response,
                          uint64_t fetch) {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    insertLocked(key, std::move(response));
    waiters = endFetchLocked(key, fetch);
  }
  for (auto& wake : waiters) wake();
}

bool ResponseCache::refresh(const std::string& key, const StoredResponse* stale,
                            std::shared_ptr<const StoredResponse> refreshed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = variants_.find(key);
  if (it == variants_.end()) return false;
  bool current = false;
  for (Lru::iterator node : it->second) current = current || node->response.get() == stale;
  if (current) insertLocked(key, std::move(refreshed));
  return current;
}

void ResponseCache::abandon(const std::string& key, uint64_t fetch) {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiters = endFetchLocked(key, fetch);
  }
  for (auto& wake : waiters) wake();
}

std::vector<std::function<void()>> ResponseCache::endFetchLocked(const std::string& key,
                                                                 uint64_t fetch) {
  std::vector<std::function<void()>> waiters;
  auto it = fetching_.find(key);
  if (fetch == 0 || it == fetching_.end() || it->second.token != fetch) return waiters;
  waiters = std::move(it->second.waiters);
  fetching_.erase(it);
  return waiters;
}

void ResponseCache::removeLocked(Lru::iterator it) {
  auto list = variants_.find(it->key);
  if (list != variants_.end()) {
    auto& v = list->second;
    v.erase(std::remove(v.begin(), v.end(), it), v.end());
    if (v.empty()) variants_.erase(list);
  }
  bytes_ -= it->bytes;
  lru_.erase(it);
}

void ResponseCache::invalidate(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = variants_.find(key);
  if (it == variants_.end()) return;
  std::vector<Lru::iterator> nodes = it->second;
  for (Lru::iterator node : nodes) removeLocked(node);
}

size_t ResponseCache::purge(std::string_view target) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t removed = 0;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (target.empty() || targetOf(it->key) == target) {
      removeLocked(it);
      ++removed;
    }
    it = next;
  }
  return removed;
}

size_t ResponseCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

size_t ResponseCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace netlab
