// ClientSide's part with the response cache (cache.h): looking a request up, serving an
// entry (fresh, or confirmed by the upstream's 304), waiting for another exchange's fetch of
// the same key, and storing the upstream's response once it has arrived whole.
#include <algorithm>
#include <ctime>
#include <string>

#include "netlab/apps/http_proxy/cache_policy.h"
#include "netlab/apps/http_proxy/exchange.h"
#include "netlab/io/clock.h"

namespace netlab::apps::proxy {
namespace {

using netlab::http::Head;

// A Head over a stored response's strings, so it is written out as an upstream's is.
Head viewOf(const StoredResponse& r) {
  Head h;
  h.isRequest = false;
  h.status = r.status;
  h.reason = r.reason;
  for (const auto& [name, value] : r.fields) h.fields.push_back({name, value});
  bool bodiless = r.status == 204 || r.status == 304;
  h.framing = bodiless ? netlab::http::Framing::kNone : netlab::http::Framing::kLength;
  h.contentLength = bodiless ? -1 : static_cast<int64_t>(r.body.size());
  return h;
}

// How long a response stays fresh and how old it was when it arrived, from its fields.
void setFreshness(StoredResponse& r) {
  Head h = viewOf(r);
  CacheControl cc = parseCacheControl(h);
  // Both capped at 2^31 s (RFC 9111 §1.2.2) so that nanoseconds cannot overflow.
  constexpr int64_t kMaxSeconds = int64_t{1} << 31;
  r.lifetimeNs = std::min(freshnessLifetime(h, cc).value_or(0), kMaxSeconds) * kNsPerSec;
  r.ageAtStoreNs =
      std::min(initialAge(h, static_cast<int64_t>(::time(nullptr))), kMaxSeconds) * kNsPerSec;
  r.alwaysRevalidate = cc.noCache;
  r.storedNs = nowNs();
}

// RFC 9110 §13.1.1-13.1.3: If-None-Match decides when present, else If-Modified-Since;
// only a 2xx response is ever "not modified" (§13.2.1).
bool notModified(const Head& request, const StoredResponse& r) {
  if (r.status < 200 || r.status > 299) return false;
  if (const auto* inm = request.find("if-none-match"))
    return noneMatchHits(inm->value, r.field("etag"));
  const auto* ims = request.find("if-modified-since");
  std::string_view lm = r.field("last-modified");
  if (!ims || lm.empty()) return false;
  auto since = parseHttpDate(ims->value);
  auto modified = parseHttpDate(lm);
  return since && modified && *modified <= *since;
}

// Fields a stored response keeps: not this hop's, and not Age, which the cache writes anew.
bool kept(const Head& head, std::string_view name) {
  return !isHopByHop(head, name) && !netlab::http::equalsIgnoreCase(name, "age");
}

// The fields a 304 carries (RFC 9110 §15.4.5), from the stored response.
bool keptIn304(std::string_view name) {
  for (std::string_view n :
       {"cache-control", "content-location", "date", "etag", "expires", "last-modified", "vary"}) {
    if (netlab::http::equalsIgnoreCase(name, n)) return true;
  }
  return false;
}

}  // namespace

bool ClientSide::consultCache(const Head& h) {
  ResponseCache* cache = protocol_.cache();
  if (!cache || (h.method != "GET" && h.method != "HEAD") || !retryable_) return false;
  CacheControl cc = parseCacheControl(h);
  if (cc.noStore || h.find("authorization")) {
    cache->counts().bypasses.fetch_add(1, std::memory_order_relaxed);
    xCache_ = "BYPASS";
    return false;
  }
  cacheKey_ = cacheKey(h);
  revalidate_ = cc.noCache || cc.maxAge == 0;
  return lookUp(/*mayFetch=*/true);
}

// Serves a fresh entry (true); or sets up a revalidation of a stale one, a fetch, or a wait
// for someone else's fetch of the key (true: the exchange goes on when that one ends).
bool ClientSide::lookUp(bool mayFetch) {
  ResponseCache& cache = *protocol_.cache();
  const Head& h = parser_.head();
  std::function<void()> wake;
  if (mayFetch && !toHead_) {  // a HEAD's answer has no body to store: it never fetches
    // The wait it belongs to comes along, so a late wake-up cannot move a later request on.
    wake = [outlet = conn_->outlet(), link = link_, wait = ++waitSerial_] {
      if (outlet)
        outlet->post([link, wait](Conn&) {
          if (link->client) link->client->fetchEnded(wait);
        });
    };
  }
  std::shared_ptr<const StoredResponse> entry;
  switch (cache.find(cacheKey_, h, entry, std::move(wake), &fetchToken_, nowNs())) {
    case ResponseCache::Found::kEntry:
      if (!revalidate_ && entry->fresh(nowNs())) {
        cache.counts().hits.fetch_add(1, std::memory_order_relaxed);
        serveStored(*entry, "HIT");
        return true;
      }
      if (!entry->field("etag").empty() || !entry->field("last-modified").empty()) {
        stale_ = std::move(entry);  // asked for with its validators (revalidationEdits)
      }
      break;
    case ResponseCache::Found::kFetch:
      fetching_ = true;
      break;
    case ResponseCache::Found::kWait:
      waitingFetch_ = true;
      armTimer();
      return true;
    case ResponseCache::Found::kMiss:
      break;
  }
  xCache_ = "MISS";  // counted as a miss, or a revalidation, when the upstream answers
  return false;
}

// The fetch this exchange waited for has ended: its response is stored (served from here),
// or it was not storable, or failed, and this request goes to the upstream itself.
void ClientSide::fetchEnded(uint64_t wait) {
  if (!waitingFetch_ || wait != waitSerial_) return;
  waitingFetch_ = false;
  if (!lookUp(/*mayFetch=*/false)) startAttempt(false);
}

// nginx's proxy_cache_lock_timeout: a fetch that takes longer no longer holds this one back.
void ClientSide::stopWaitingForFetch() {
  waitingFetch_ = false;
  xCache_ = "MISS";
  startAttempt(false);
}

void ClientSide::serveStored(const StoredResponse& r, const char* how) {
  Head stored = viewOf(r);
  std::string extra = "Age: " + std::to_string(r.ageNs(nowNs()) / kNsPerSec) + "\r\n";
  ((extra += "X-Cache: ") += how) += "\r\n";
  if (notModified(parser_.head(), r)) {  // the client's own copy is current
    Head head = stored;
    head.status = 304;
    head.reason = "Not Modified";
    head.fields.clear();
    for (const auto& f : stored.fields) {
      if (keptIn304(f.name)) head.fields.push_back(f);
    }
    head.framing = netlab::http::Framing::kNone;
    head.contentLength = -1;
    sendStored(head, {}, extra);
    return;
  }
  sendStored(stored, r.body, extra);
  // A large hit's compressed copy and its chunked framing are not kept for the next request.
  if (compressed_.capacity() > Buffer::kReadChunk) compressed_ = std::string();
  if (scratch_.capacity() > Buffer::kReadChunk) scratch_ = std::string();
}

void ClientSide::sendStored(const Head& head, std::string_view body, const std::string& extra) {
  sendResponseHead(head, extra, /*mayGzip=*/!body.empty());
  answered_ = responseStarted_ = true;
  if (framing_ != ClientFraming::kNone) {
    if (gzip_.active()) {
      compressed_.clear();
      gzip_.compress(body, compressed_);
      gzip_.finish(compressed_);
      body = compressed_;
    }
    sendBody(body);
    if (framing_ == ClientFraming::kChunked) conn_->send(kLastChunk);
  }
  finishExchange();
}

// Copies the fields of a response that may be stored; the body follows in fillBody.
void ClientSide::beginFill(const Head& response) {
  if (cacheKey_.empty() || toHead_) return;
  const Head& request = parser_.head();
  CacheControl cc = parseCacheControl(response);
  if (!storable(request, response, cc)) return;
  size_t limit = protocol_.cache()->maxEntryBytes();
  if (response.contentLength > static_cast<int64_t>(limit)) return;  // streamed through
  auto r = std::make_shared<StoredResponse>();
  r->status = response.status;
  r->reason = std::string(response.reason);
  for (const auto& f : response.fields) {
    if (kept(response, f.name)) r->fields.emplace_back(f.name, f.value);
  }
  for (const auto& f : response.fields) {  // every Vary line (RFC 9110 §12.5.5)
    if (!netlab::http::equalsIgnoreCase(f.name, "vary")) continue;
    for (std::string_view name : splitList(f.value, " ,\t")) {
      std::string lower(name);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r->varyNames.push_back(std::move(lower));
    }
  }
  r->varyValues = varyValuesOf(request, r->varyNames);  // the body grows as it comes
  filling_ = std::move(r);
}

void ClientSide::fillBody(std::string_view piece) {
  if (!filling_) return;
  if (filling_->body.size() + piece.size() > protocol_.cache()->maxEntryBytes()) {
    filling_.reset();  // too large after all: the rest streams through, nothing is stored
    return;
  }
  filling_->body.append(piece);
}

// The response arrived whole: it is stored now, and whoever waited for it is told.
void ClientSide::endFill() {
  if (!filling_) return;
  setFreshness(*filling_);
  protocol_.cache()->store(cacheKey_, std::move(filling_), fetching_ ? fetchToken_ : 0);
  filling_.reset();
  fetching_ = false;
}

// A 304 to a revalidation (RFC 9111 §4.3.4): the stored response, with the fields the 304
// brings replacing its own, is fresh again.
void ClientSide::refreshStale(const Head& notModifiedHead) {
  auto r = std::make_shared<StoredResponse>(*stale_);
  for (const auto& f : notModifiedHead.fields) {
    if (!kept(notModifiedHead, f.name)) continue;
    std::erase_if(r->fields, [&](const auto& kept) {
      return netlab::http::equalsIgnoreCase(kept.first, f.name);
    });
  }
  for (const auto& f : notModifiedHead.fields) {
    if (kept(notModifiedHead, f.name)) r->fields.emplace_back(f.name, f.value);
  }
  setFreshness(*r);
  protocol_.cache()->counts().revalidations.fetch_add(1, std::memory_order_relaxed);
  // A newer response stored meanwhile (another client's 200) is not overwritten by this.
  protocol_.cache()->refresh(cacheKey_, stale_.get(), r);
  stale_ = std::move(r);
}

// Request fields for a revalidation: the stored validators replace the client's own.
HeaderEdits ClientSide::revalidationEdits() const {
  HeaderEdits edits = protocol_.headerEdits();
  edits.remove.push_back("if-none-match");
  edits.remove.push_back("if-modified-since");
  if (auto etag = stale_->field("etag"); !etag.empty()) {
    edits.set.emplace_back("If-None-Match", std::string(etag));
  }
  if (auto lm = stale_->field("last-modified"); !lm.empty()) {
    edits.set.emplace_back("If-Modified-Since", std::string(lm));
  }
  return edits;
}

// The exchange ends: a fetch that stored nothing releases its waiters.
void ClientSide::endCacheExchange() {
  if (fetching_) protocol_.cache()->abandon(cacheKey_, fetchToken_);
  fetching_ = waitingFetch_ = revalidate_ = swallow_ = false;
  filling_.reset();
  stale_.reset();
  cacheKey_.clear();
  xCache_ = nullptr;
}

}  // namespace netlab::apps::proxy
