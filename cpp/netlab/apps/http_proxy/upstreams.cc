#include "netlab/apps/http_proxy/upstreams.h"

#include <cerrno>
#include <charconv>

#include "netlab/apps/http_proxy/filter.h"
#include "netlab/apps/relay.h"

namespace netlab {
namespace {

constexpr std::string_view kWeight = "weight=";

}  // namespace

Result<std::vector<UpstreamAddress>> parseUpstreams(std::string_view text) {
  std::vector<UpstreamAddress> out;
  for (std::string_view token : splitList(text, " ,\t")) {
    if (token.substr(0, kWeight.size()) == kWeight) {
      std::string_view digits = token.substr(kWeight.size());
      int64_t weight = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), weight);
      if (out.empty() || ec != std::errc{} || end != digits.data() + digits.size() || weight < 1 ||
          weight > 1000) {
        return Error{EINVAL, "upstream: '" + std::string(token) +
                                 "' must follow a host:port and be weight=1..1000"};
      }
      out.back().weight = weight;
      continue;
    }
    auto target = parseTarget(token);
    if (!target.ok()) return Error{EINVAL, "upstream: " + target.error().message};
    auto [host, port] = target.value();
    out.push_back({host, port, 1, host + ":" + std::to_string(port)});
  }
  if (out.empty()) return Error{EINVAL, "http-proxy needs at least one upstream (host:port)"};
  return out;
}

UpstreamSet::UpstreamSet(std::vector<UpstreamAddress> servers, BalancePolicy balance, Health health)
    : balance_(balance), health_(health) {
  for (auto& a : servers) servers_.push_back({std::move(a)});
}

bool UpstreamSet::usable(const Server& s, size_t i, const std::vector<bool>& tried, int64_t nowNs,
                         bool ignoreHealth) const {
  if (i < tried.size() && tried[i]) return false;
  return ignoreHealth || (s.downUntilNs <= nowNs && !s.checkedDown);
}

// When every untried upstream is marked down, one is tried anyway: refusing outright would
// keep a lone upstream that has just come back unused for the whole cool-down.
int UpstreamSet::pick(const std::vector<bool>& tried, int64_t nowNs) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (bool ignoreHealth : {false, true}) {
    int i = balance_ == BalancePolicy::kLeastConn ? pickLeastConn(tried, nowNs, ignoreHealth)
                                                  : pickRoundRobin(tried, nowNs, ignoreHealth);
    if (i >= 0) {
      ++servers_[static_cast<size_t>(i)].inFlight;
      return i;
    }
  }
  return -1;
}

// nginx's smooth weighted round-robin: weights 5,1,1 give a a b a c a a, not a a a a a b c.
int UpstreamSet::pickRoundRobin(const std::vector<bool>& tried, int64_t nowNs, bool ignoreHealth) {
  int best = -1;
  int64_t total = 0;
  for (size_t i = 0; i < servers_.size(); ++i) {
    Server& s = servers_[i];
    if (!usable(s, i, tried, nowNs, ignoreHealth)) continue;
    s.currentWeight += s.address.weight;
    total += s.address.weight;
    if (best < 0 || s.currentWeight > servers_[static_cast<size_t>(best)].currentWeight) {
      best = static_cast<int>(i);
    }
  }
  if (best >= 0) servers_[static_cast<size_t>(best)].currentWeight -= total;
  return best;
}

// Fewest requests in flight per unit of weight; ties go round in turn.
int UpstreamSet::pickLeastConn(const std::vector<bool>& tried, int64_t nowNs, bool ignoreHealth) {
  int best = -1;
  size_t n = servers_.size();
  for (size_t k = 0; k < n; ++k) {
    size_t i = (rotate_ + k) % n;
    const Server& s = servers_[i];
    if (!usable(s, i, tried, nowNs, ignoreHealth)) continue;
    if (best < 0) {
      best = static_cast<int>(i);
      continue;
    }
    const Server& b = servers_[static_cast<size_t>(best)];
    if (s.inFlight * b.address.weight < b.inFlight * s.address.weight) best = static_cast<int>(i);
  }
  if (best >= 0) rotate_ = static_cast<size_t>(best) + 1;
  return best;
}

void UpstreamSet::release(size_t i) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (servers_[i].inFlight > 0) --servers_[i].inFlight;
}

void UpstreamSet::failed(size_t i, int64_t nowNs) {
  if (health_.maxFails <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  Server& s = servers_[i];
  if (s.fails == 0 || nowNs - s.firstFailNs > health_.failTimeoutNs) {
    s.fails = 0;
    s.firstFailNs = nowNs;
  }
  if (++s.fails >= health_.maxFails) {
    s.downUntilNs = nowNs + health_.failTimeoutNs;
    s.fails = 0;
  }
}

void UpstreamSet::succeeded(size_t i) {
  std::lock_guard<std::mutex> lock(mutex_);
  servers_[i].fails = 0;
}

void UpstreamSet::setChecked(size_t i, bool down) {
  std::lock_guard<std::mutex> lock(mutex_);
  servers_[i].checkedDown = down;
}

size_t UpstreamSet::down(int64_t nowNs) const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const Server& s : servers_) n += s.downUntilNs > nowNs || s.checkedDown;
  return n;
}

}  // namespace netlab
