#include "netlab/apps/http_proxy/pool.h"

#include <algorithm>
#include <utility>

#include "netlab/apps/http_proxy/exchange.h"

namespace netlab::apps::proxy {

UpstreamPool::UpstreamPool(const Settings& settings)
    : settings_(settings), parked_(settings.upstreams) {}

std::shared_ptr<UpstreamPool> UpstreamPool::forThisThread(uint64_t proxy,
                                                          const Settings& settings) {
  thread_local std::vector<std::pair<uint64_t, std::weak_ptr<UpstreamPool>>> pools;
  for (auto& [serial, weak] : pools) {
    if (serial != proxy) continue;
    if (auto pool = weak.lock()) return pool;
  }
  pools.erase(std::remove_if(pools.begin(), pools.end(),
                             [](const auto& entry) { return entry.second.expired(); }),
              pools.end());
  auto pool = std::make_shared<UpstreamPool>(settings);
  pools.emplace_back(proxy, pool);
  return pool;
}

UpstreamSide* UpstreamPool::take(size_t i) {
  auto& list = parked_[i];
  if (list.empty()) return nullptr;
  // The most recently used: the one least likely to have been closed by the upstream.
  UpstreamSide* side = list.back();
  list.pop_back();
  count(-1);
  return side;
}

bool UpstreamPool::put(size_t i, UpstreamSide& side) {
  if (settings_.cap == 0) return false;
  auto& list = parked_[i];
  if (list.size() >= settings_.cap) {
    UpstreamSide* oldest = list.front();
    list.pop_front();
    count(-1);
    oldest->closeIdle(CloseKind::kLocalClose, "keep-alive pool full");
  }
  list.push_back(&side);
  count(1);
  return true;
}

void UpstreamPool::forget(size_t i, UpstreamSide& side) {
  auto& list = parked_[i];
  auto it = std::find(list.begin(), list.end(), &side);
  if (it == list.end()) return;
  list.erase(it);
  count(-1);
}

void UpstreamPool::closeAll() {
  for (auto& list : parked_) {
    std::deque<UpstreamSide*> closing;
    closing.swap(list);  // each close calls forget(), which must not meet them
    count(-static_cast<int64_t>(closing.size()));
    for (UpstreamSide* side : closing) side->closeIdle(CloseKind::kLocalClose, "client gone");
  }
}

void UpstreamPool::count(int64_t delta) {
  if (settings_.idleGauge) settings_.idleGauge->fetch_add(delta, std::memory_order_relaxed);
}

}  // namespace netlab::apps::proxy
