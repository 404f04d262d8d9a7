#include "netlab/apps/http_proxy/access_log.h"

#include <time.h>

#include <cstdio>

namespace netlab::apps::proxy {
namespace {

void appendSeconds(std::string& out, int64_t ns) {
  char text[32];
  int n = std::snprintf(text, sizeof text, "%.3f", static_cast<double>(ns) * 1e-9);
  out.append(text, static_cast<size_t>(n));
}

void appendQuoted(std::string& out, std::string_view s) {
  out += '"';
  if (s.empty()) {
    out += '-';
  } else {
    appendEscaped(out, s);
  }
  out += '"';
}

}  // namespace

void AccessNote::begin(const netlab::http::Head* head, int64_t nowNs) {
  if (!enabled_) return;
  open_ = true;
  status_ = 0;
  bodyBytes_ = upstreamStartNs_ = upstreamEndNs_ = 0;
  startNs_ = nowNs;
  request_.clear();
  referer_.clear();
  agent_.clear();
  upstream_.clear();
  if (!head) return;
  request_.append(head->method).append(" ").append(head->target);
  request_.append(head->versionMinor == 0 ? " HTTP/1.0" : " HTTP/1.1");
  if (const auto* f = head->find("referer")) referer_ = f->value;
  if (const auto* f = head->find("user-agent")) agent_ = f->value;
}

void AccessNote::upstreamStarted(std::string_view upstream, int64_t nowNs) {
  if (!open_) return;
  upstream_ = upstream;
  upstreamStartNs_ = nowNs;
  upstreamEndNs_ = 0;
}

void AccessNote::upstreamEnded(int64_t nowNs) {
  if (open_ && upstreamStartNs_ != 0 && upstreamEndNs_ == 0) upstreamEndNs_ = nowNs;
}

bool AccessNote::finish(std::string& out, std::string_view client, int64_t nowNs) {
  if (!open_) return false;
  upstreamEnded(nowNs);
  open_ = false;
  out.append(client).append(" - - ");
  appendLogTime(out, ::time(nullptr));
  out += ' ';
  appendQuoted(out, request_);
  out += ' ';
  out += std::to_string(status_ == 0 ? 499 : status_);
  out += ' ';
  out += std::to_string(bodyBytes_);
  out += ' ';
  appendQuoted(out, referer_);
  out += ' ';
  appendQuoted(out, agent_);
  out += ' ';
  if (upstream_.empty()) {
    out += "- -";
  } else {
    out += upstream_;
    out += ' ';
    appendSeconds(out, upstreamEndNs_ - upstreamStartNs_);
  }
  out += ' ';
  appendSeconds(out, nowNs - startNs_);
  out += '\n';
  return true;
}

void appendEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
}

// Month names by hand: strftime's %b follows the process's locale.
void appendLogTime(std::string& out, int64_t unixSec) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // One formatting per second per thread, as nginx caches its time strings.
  thread_local int64_t cachedSec = -1;
  thread_local char cached[32];
  thread_local int cachedLen = 0;
  if (unixSec != cachedSec) {
    time_t t = static_cast<time_t>(unixSec);
    struct tm tm {};
    ::gmtime_r(&t, &tm);
    cachedLen =
        std::snprintf(cached, sizeof cached, "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday,
                      kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cachedSec = unixSec;
  }
  out.append(cached, static_cast<size_t>(cachedLen));
}

}  // namespace netlab::apps::proxy
