#include "netlab/apps/logs/journal.h"

#include <dirent.h>
#include <fcntl.h>
#if defined(__x86_64__)
#include <nmmintrin.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

namespace netlab::logs {
namespace {

constexpr uint32_t kMagic = 0x314a4c4e;  // "NLJ1"
constexpr size_t kHeader = 32;
// id, time, received, seq; flags, level and the four lengths; the record's own size.
constexpr size_t kFixed = 4 + 4 * 8 + 6 * 4;

struct Header {
  uint32_t magic = kMagic, count = 0, bodyBytes = 0, crc = 0;
  int64_t firstId = 0, lastId = 0;
};
static_assert(sizeof(Header) == kHeader);

std::array<uint32_t, 256> crcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    t[i] = c;
  }
  return t;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32cHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  uint64_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}
#endif

uint32_t crc32cTable(uint32_t crc, const uint8_t* p, size_t n) {
  static const std::array<uint32_t, 256> table = crcTable();
  uint32_t c = ~crc;
  for (; n > 0; ++p, --n) c = table[(c ^ *p) & 0xff] ^ (c >> 8);
  return ~c;
}

// The checksum covers the header (its crc field left out) and the body.
uint32_t batchCrc(const Header& h, const char* body) {
  const auto* raw = reinterpret_cast<const uint8_t*>(&h);
  uint32_t crc = crc32c(0, raw, 12);
  crc = crc32c(crc, raw + 16, kHeader - 16);
  return crc32c(crc, body, h.bodyBytes);
}

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
T get(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  p += sizeof v;
  return v;
}

void encode(std::string& out, const LogRecord& r) {
  put<uint32_t>(out, static_cast<uint32_t>(kFixed + r.host.size() + r.app.size() + r.client.size() +
                                           r.message.size()));
  put<int64_t>(out, r.id);
  put<int64_t>(out, r.timeMs);
  put<int64_t>(out, r.receivedMs);
  put<int64_t>(out, r.seq);
  put<uint32_t>(out, r.flags);
  put<uint32_t>(out, static_cast<uint32_t>(r.level));
  for (const std::string* s : {&r.host, &r.app, &r.client, &r.message})
    put<uint32_t>(out, static_cast<uint32_t>(s->size()));
  out += r.host;
  out += r.app;
  out += r.client;
  out += r.message;
}

// The records of a checked body with ids above `after`, in place, until `fn` returns false;
// false if the body is malformed.
template <typename Fn>
bool decodeViews(const Header& h, const char* body, int64_t after, Fn&& fn) {
  const char* p = body;
  const char* end = body + h.bodyBytes;
  for (uint32_t i = 0; i < h.count; ++i) {
    if (static_cast<size_t>(end - p) < kFixed) return false;
    const char* start = p;
    auto size = get<uint32_t>(p);
    if (size < kFixed || size > static_cast<size_t>(end - start)) return false;
    RecordView r;
    r.id = get<int64_t>(p);
    r.timeMs = get<int64_t>(p);
    r.receivedMs = get<int64_t>(p);
    r.seq = get<int64_t>(p);
    r.flags = get<uint32_t>(p);
    r.level = static_cast<int>(get<uint32_t>(p));
    uint32_t lengths[4];
    uint64_t total = kFixed;
    for (uint32_t& n : lengths) total += n = get<uint32_t>(p);
    if (total != size) return false;
    if (r.id > after) {
      r.host = {p, lengths[0]};
      r.app = {p + lengths[0], lengths[1]};
      r.client = {p + lengths[0] + lengths[1], lengths[2]};
      r.message = {p + lengths[0] + lengths[1] + lengths[2], lengths[3]};
      if (!fn(r)) return true;
    }
    p = start + size;
  }
  return p == end;
}

bool decode(const Header& h, const char* body, int64_t after,
            const std::function<bool(LogRecord&&)>& fn) {
  return decodeViews(h, body, after, [&](const RecordView& v) { return fn(v.copy()); });
}

Status preadAll(int fd, char* buf, size_t n, uint64_t offset, const std::string& path) {
  for (size_t done = 0; done < n;) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sysError("read " + path);
    if (r == 0) return Error{EBADMSG, path + ": ends inside a batch"};
    done += static_cast<size_t>(r);
  }
  return {};
}

// Reads the batch at `offset` of a file `size` bytes long into `h` and `body`; an Error if it
// is cut short or fails its checksum.
Status readBatch(int fd, uint64_t offset, uint64_t size, const std::string& path, Header& h,
                 std::string& body) {
  if (size - offset < kHeader) return Error{EBADMSG, path + ": a batch header cut short"};
  Status st = preadAll(fd, reinterpret_cast<char*>(&h), kHeader, offset, path);
  if (!st.ok()) return st;
  if (h.magic != kMagic || h.bodyBytes > size - offset - kHeader || h.firstId > h.lastId)
    return Error{EBADMSG, path + ": a damaged batch header at offset " + std::to_string(offset)};
  body.resize(h.bodyBytes);
  st = preadAll(fd, body.data(), h.bodyBytes, offset + kHeader, path);
  if (!st.ok()) return st;
  if (batchCrc(h, body.data()) != h.crc)
    return Error{EBADMSG,
                 path + ": a batch fails its checksum at offset " + std::to_string(offset)};
  return {};
}

Status syncDirectory(const std::string& dir) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.valid() || ::fsync(d.get()) != 0) return sysError("fsync " + dir);
  return {};
}

}  // namespace

LogRecord RecordView::copy() const {
  LogRecord r;
  r.id = id;
  r.timeMs = timeMs;
  r.receivedMs = receivedMs;
  r.seq = seq;
  r.flags = flags;
  r.level = level;
  r.host = host;
  r.app = app;
  r.client = client;
  r.message = message;
  return r;
}

uint32_t crc32c(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
#if defined(__x86_64__)
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  if (hardware) return crc32cHardware(crc, p, size);
#endif
  return crc32cTable(crc, p, size);
}

Result<std::unique_ptr<Journal>> Journal::open(
    const std::string& dir, bool syncFull, int64_t indexedId,
    const std::function<void(const LogRecord&)>& unindexed, uint64_t segmentBytes) {
  std::string path = dir + "/journal";
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return sysError("mkdir " + path);
  std::unique_ptr<Journal> j(new Journal(path, syncFull, segmentBytes));
  Status st = j->recover(indexedId, unindexed);
  if (!st.ok()) return st.error();
  return j;
}

std::string Journal::segmentPath(int64_t firstId) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld.seg", static_cast<long long>(firstId));
  return dir_ + "/" + name;
}

Status Journal::recover(int64_t indexedId, const std::function<void(const LogRecord&)>& unindexed) {
  std::vector<int64_t> firsts;
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      char* end = nullptr;
      long long first = std::strtoll(name.c_str(), &end, 10);
      if (name.size() == 24 && end == name.c_str() + 20 && std::string(end) == ".seg" && first > 0)
        firsts.push_back(first);
    }
    ::closedir(d);
  } else {
    return sysError("opendir " + dir_);
  }
  std::sort(firsts.begin(), firsts.end());
  Header h;
  std::string body;
  for (size_t i = 0; i < firsts.size(); ++i) {
    int64_t first = firsts[i];
    bool last = i + 1 == firsts.size();
    Segment seg{first, 0, 0, segmentPath(first)};
    Fd fd(::open(seg.path.c_str(), O_RDWR | O_CLOEXEC));
    struct stat sb;
    if (!fd.valid() || ::fstat(fd.get(), &sb) != 0) return sysError("open " + seg.path);
    auto size = static_cast<uint64_t>(sb.st_size);
    if (!last && firsts[i + 1] - 1 <= indexedId) {
      // Indexed already: read when queried (and checked then), not at every start, which
      // would read the whole store. Its last id is at most the next segment's first - 1.
      seg.size = size;
      seg.lastId = firsts[i + 1] - 1;
      lastId_.store(std::max(lastId_.load(), seg.lastId));  // if the last segment is empty
      written_.fetch_add(seg.size);
      if (seg.size > 0) segments_.push_back(seg);
      continue;
    }
    while (seg.size < size && readBatch(fd.get(), seg.size, size, seg.path, h, body).ok()) {
      bool ok = decode(h, body.data(), indexedId, [&](LogRecord&& r) {
        unindexed(r);
        return true;
      });
      if (!ok) break;
      seg.size += kHeader + h.bodyBytes;
      seg.lastId = h.lastId;
    }
    if (seg.size < size && last) {
      // Past the last whole batch of the last segment: a write the process died in, never
      // acknowledged.
      if (::ftruncate(fd.get(), static_cast<off_t>(seg.size)) != 0)
        return sysError("truncate " + seg.path);
    } else if (seg.size < size) {
      // Inside an earlier segment, with whole batches written after it: disk damage. The
      // file stays as it is, for whoever looks into it; what follows the damage is counted.
      damaged_.fetch_add(1, std::memory_order_relaxed);
    }
    if (seg.size == 0) {
      if (last) ::unlink(seg.path.c_str());
      continue;
    }
    lastId_.store(std::max(lastId_.load(), seg.lastId));
    written_.fetch_add(seg.size);
    segments_.push_back(seg);
  }
  // Appends go to a new segment: never after bytes that recovery judged.
  return {};
}

Status Journal::startSegment(int64_t firstId) {
  Segment seg{firstId, 0, 0, segmentPath(firstId)};
  Fd fd(::open(seg.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return sysError("create " + seg.path);
  if (syncFull_) {
    Status st = syncDirectory(dir_);
    if (!st.ok()) return st;
  }
  active_ = std::move(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  segments_.push_back(seg);
  return {};
}

Status Journal::append(const std::vector<const LogRecord*>& records) {
  if (records.empty()) return {};
  encoded_.assign(kHeader, '\0');
  for (const LogRecord* r : records) encode(encoded_, *r);
  Header h;
  h.count = static_cast<uint32_t>(records.size());
  h.bodyBytes = static_cast<uint32_t>(encoded_.size() - kHeader);
  h.firstId = records.front()->id;
  h.lastId = records.back()->id;
  h.crc = batchCrc(h, encoded_.data() + kHeader);
  std::memcpy(encoded_.data(), &h, kHeader);

  uint64_t offset;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    offset = segments_.empty() ? segmentBytes_ : segments_.back().size;
  }
  if (!active_.valid() || offset >= segmentBytes_ || rollOver_.exchange(false)) {
    Status st = startSegment(h.firstId);
    if (!st.ok()) return st;
    offset = 0;
  }
  for (size_t done = 0; done < encoded_.size();) {
    ssize_t n = ::pwrite(active_.get(), encoded_.data() + done, encoded_.size() - done,
                         static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = sysError("write " + dir_);
      (void)::ftruncate(active_.get(), static_cast<off_t>(offset));  // no half batch stays
      return e;
    }
    done += static_cast<size_t>(n);
  }
  if (syncFull_ && ::fdatasync(active_.get()) != 0) {
    Error e = sysError("fdatasync " + dir_);
    (void)::ftruncate(active_.get(), static_cast<off_t>(offset));
    return e;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Segment& seg = segments_.back();
  seg.size = offset + encoded_.size();
  seg.lastId = h.lastId;
  written_.fetch_add(encoded_.size(), std::memory_order_release);
  lastId_.store(h.lastId, std::memory_order_release);
  return {};
}

uint64_t Journal::lagBytes() const {
  return written_.load(std::memory_order_acquire) - consumed_.load(std::memory_order_acquire);
}

void Journal::startAt(const Cursor& cursor) {
  uint64_t before = 0;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Segment& seg : segments_) {
    if (seg.firstId < cursor.segment) before += seg.size;
    if (seg.firstId == cursor.segment) before += std::min(cursor.offset, seg.size);
  }
  consumed_.store(before);
}

Status Journal::read(Cursor& cursor, int64_t after, size_t maxRecords, std::vector<LogRecord>& out,
                     Span* span) {
  size_t before = out.size();
  return read(
      cursor, after, maxRecords - std::min(maxRecords - 1, before),
      [&](const RecordView& v) { out.push_back(v.copy()); }, span);
}

Status Journal::read(Cursor& cursor, int64_t after, size_t maxRecords,
                     const std::function<void(const RecordView&)>& fn, Span* span) {
  size_t seen = 0;
  std::vector<RecordView> views;
  Header h;
  std::string body;
  for (;;) {
    Segment seg;
    bool last;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = std::find_if(segments_.begin(), segments_.end(),
                             [&](const Segment& s) { return s.firstId >= cursor.segment; });
      if (it == segments_.end()) return {};
      if (it->firstId != cursor.segment) cursor = {it->firstId, 0};  // the cursor's was dropped
      seg = *it;
      last = it + 1 == segments_.end();
    }
    if (cursor.offset >= seg.size) {
      if (last) return {};
      cursor = {seg.firstId + 1, 0};
      continue;
    }
    Fd fd(::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return sysError("open " + seg.path);
    if (span) *span = {seg.firstId, cursor.offset, cursor.offset};
    while (cursor.offset < seg.size && seen < maxRecords) {
      Status st = readBatch(fd.get(), cursor.offset, seg.size, seg.path, h, body);
      if (!st.ok() && st.error().code != EBADMSG) return st;  // the cursor stays: try again
      // Handed on only once the whole batch decodes: a malformed one is skipped whole.
      views.clear();
      bool ok = st.ok() && decodeViews(h, body.data(), after, [&](const RecordView& r) {
                  views.push_back(r);
                  return true;
                });
      if (ok) {
        for (const RecordView& r : views) fn(r);
        seen += views.size();
      }
      uint64_t next = ok ? cursor.offset + kHeader + h.bodyBytes : seg.size;
      consumed_.fetch_add(next - cursor.offset, std::memory_order_release);
      cursor.offset = next;
      if (span && ok) span->end = next;
      if (!ok) {
        // Damage inside what was written whole: the disk's doing. The rest of the segment
        // is skipped rather than indexing garbage or stopping the index for good.
        damaged_.fetch_add(1, std::memory_order_relaxed);
        return st.ok() ? Error{EBADMSG, seg.path + ": a malformed record"} : st;
      }
    }
    return {};
  }
}

void Journal::dropBefore(int64_t keptId) {
  std::vector<std::string> gone;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (segments_.size() > 1 && segments_.front().lastId < keptId) {
      gone.push_back(segments_.front().path);
      segments_.erase(segments_.begin());
    }
    if (!segments_.empty() && segments_.back().size > 0 && segments_.back().lastId < keptId)
      rollOver_.store(true);
  }
  for (const std::string& path : gone) ::unlink(path.c_str());
}

uint64_t Journal::bytesFrom(const Cursor& from) const {
  uint64_t n = 0;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Segment& seg : segments_) {
    if (seg.firstId > from.segment) n += seg.size;
    if (seg.firstId == from.segment) n += seg.size - std::min(seg.size, from.offset);
  }
  return n;
}

Status Journal::read(const Span& span, int64_t after, std::string& buf,
                     std::vector<RecordView>& views) const {
  views.clear();
  std::string path = segmentPath(span.segment);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno == ENOENT ? Status() : sysError("open " + path);
  // The span comes from the index, which a damaged disk can garble like the journal itself.
  struct stat sb{};
  if (::fstat(fd.get(), &sb) != 0) return sysError("stat " + path);
  if (span.end < span.begin || span.end > static_cast<uint64_t>(sb.st_size)) return {};
  buf.resize(span.end - span.begin);
  Status st = preadAll(fd.get(), buf.data(), buf.size(), span.begin, path);
  if (!st.ok()) return st.error().code == EBADMSG ? Status() : st;  // cut short: damage
  Header h;
  for (size_t offset = 0; buf.size() - offset >= kHeader; offset += kHeader + h.bodyBytes) {
    std::memcpy(&h, buf.data() + offset, kHeader);
    const char* body = buf.data() + offset + kHeader;
    if (h.magic != kMagic || h.bodyBytes > buf.size() - offset - kHeader ||
        batchCrc(h, body) != h.crc)
      return {};
    if (h.lastId <= after) continue;
    if (!decodeViews(h, body, after, [&](const RecordView& r) {
          views.push_back(r);
          return true;
        }))
      return {};
  }
  return {};
}

Status Journal::scan(const Span& span, int64_t after,
                     const std::function<bool(LogRecord&&)>& fn) const {
  std::string buf;
  std::vector<RecordView> views;
  Status st = read(span, after, buf, views);
  for (const RecordView& r : views) {
    if (!st.ok() || !fn(r.copy())) break;
  }
  return st;
}

Result<Journal::View> Journal::view(int64_t after) const {
  View v;
  std::lock_guard<std::mutex> lock(mutex_);
  v.lastId_ = lastId_.load(std::memory_order_acquire);
  for (const Segment& seg : segments_) {
    if (seg.lastId <= after || seg.size == 0) continue;
    Fd fd(::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return sysError("open " + seg.path);
    v.parts_.push_back({std::move(fd), seg.size, seg.path});
  }
  return v;
}

Status Journal::View::scan(size_t index, int64_t after,
                           const std::function<bool(LogRecord&&)>& fn) const {
  Header h;
  std::string body;
  const Part& part = parts_.at(index);
  {
    for (uint64_t offset = 0; offset < part.size; offset += kHeader + h.bodyBytes) {
      Status st = preadAll(part.fd.get(), reinterpret_cast<char*>(&h), kHeader, offset, part.path);
      if (!st.ok()) return st;
      // Damage: the rest of the segment is skipped, as the indexer skips it.
      if (h.magic != kMagic || h.bodyBytes > part.size - offset - kHeader) return {};
      if (h.lastId <= after) continue;  // skipped unread
      if (h.firstId > lastId_) return {};
      st = readBatch(part.fd.get(), offset, part.size, part.path, h, body);
      if (!st.ok()) return st.error().code == EBADMSG ? Status() : st;
      bool more = true;
      bool ok = decode(h, body.data(), after, [&](LogRecord&& r) {
        more = r.id <= lastId_ && fn(std::move(r));
        return more;
      });
      if (!ok || !more) return {};
    }
  }
  return {};
}

}  // namespace netlab::logs
