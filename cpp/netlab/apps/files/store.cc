#include "netlab/apps/files/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "netlab/apps/files/names.h"
#include "netlab/core/sha256.h"
#include "netlab/io/clock.h"

namespace netlab::files {
namespace {

constexpr int64_t kSweepIntervalNs = int64_t{60} * 1000000000;
constexpr size_t kHashRead = 1 << 20;
constexpr int kMaxDepth = 64;

int64_t wallNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);  // file times are wall-clock times
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

int64_t mtimeNs(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

Fd openDir(int at, const char* name) {
  if (::mkdirat(at, name, 0700) != 0 && errno != EEXIST) return Fd();
  return Fd(::openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// Calls `each` with every entry of `dir` but "." and "..".
template <class F>
void forEachEntry(int dir, F each) {
  int copy = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return;
  DIR* d = ::fdopendir(copy);
  if (!d) {
    ::close(copy);
    return;
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") each(name);
  }
  ::closedir(d);
}

}  // namespace

std::string_view refusalName(Refusal r) {
  static constexpr std::array<std::string_view, kRefusals> kNames = {
      "none",  "bad_command",      "bad_name", "not_found", "forbidden", "busy",    "too_large",
      "quota", "too_many_uploads", "checksum", "bad_range", "stalled",   "io_error"};
  return kNames[static_cast<size_t>(r)];
}

int httpStatus(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return 200;
    case Refusal::kBadCommand:
    case Refusal::kBadName:
    case Refusal::kChecksum:
      return 400;
    case Refusal::kNotFound:
      return 404;
    case Refusal::kForbidden:
      return 403;
    case Refusal::kBusy:
      return 409;
    case Refusal::kTooLarge:
      return 413;
    case Refusal::kQuota:
      return 507;
    case Refusal::kTooManyUploads:
      return 503;
    case Refusal::kBadRange:
      return 416;
    case Refusal::kStalled:
      return 408;
    case Refusal::kIoError:
      return 500;
  }
  return 500;
}

Refusal refusalOf(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Refusal::kNotFound;
    case EXDEV:
    case ELOOP:
    case EACCES:
    case EPERM:
    case EISDIR:
      return Refusal::kForbidden;
    case ENAMETOOLONG:
      return Refusal::kBadName;
    case ENOSPC:
    case EDQUOT:
      return Refusal::kQuota;
    default:
      return Refusal::kIoError;
  }
}

Result<std::unique_ptr<FileStore>> FileStore::open(const FileOptions& options) {
  std::unique_ptr<FileStore> store(new FileStore(options));
  auto root = Root::open(options.root);
  if (!root.ok()) return root.error();
  store->root_ = std::move(root.value());
  std::string hidden(kHiddenDir);
  store->hidden_ = openDir(store->root_.fd(), hidden.c_str());
  if (store->hidden_.valid()) store->partial_ = openDir(store->hidden_.get(), "partial");
  if (store->partial_.valid()) store->sums_ = openDir(store->hidden_.get(), "sums");
  if (!store->sums_.valid()) return sysError("create " + options.root + "/" + hidden);
  store->used_ = store->countBytes(store->root_.fd(), 0);
  store->pool_ = std::make_unique<WorkPool>(static_cast<int>(options.diskThreads));
  store->hashPool_ =
      std::make_unique<WorkPool>(std::max(1, static_cast<int>(options.diskThreads) / 2));
  store->sweepPartials();
  return store;
}

FileStore::~FileStore() {
  hashPool_.reset();
  pool_.reset();
}  // writes still queued finish before the fds close

// The bytes of every regular file under `dir` (partials included), symlinks not followed.
int64_t FileStore::countBytes(int dir, int depth) {
  int64_t total = 0;
  forEachEntry(dir, [&](std::string_view name) {
    std::string n(name);
    struct stat st;
    if (::fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (S_ISREG(st.st_mode)) total += st.st_size;
    if (S_ISDIR(st.st_mode) && depth < kMaxDepth) {
      Fd sub(::openat(dir, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.valid()) total += countBytes(sub.get(), depth + 1);
    }
  });
  return total;
}

Refusal FileStore::admit(const std::string& name, const std::string& partial, int64_t size) {
  int64_t more = std::max<int64_t>(size, 0);
  if (options_.maxFile > 0 && size > options_.maxFile) return Refusal::kTooLarge;
  bool sweep = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (uploading_.count(name)) return Refusal::kBusy;
    if (uploads_ >= options_.maxUploads) return Refusal::kTooManyUploads;
    // A resumed partial's bytes are counted in used_ already: admit() asks for the whole
    // size, and unreserve() gives back what is on disk.
    int64_t onDisk = 0;
    struct stat st;
    if (size > 0 && ::fstatat(partial_.get(), partial.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
      onDisk = std::min<int64_t>(st.st_size, size);
    if (options_.quota > 0 && usedBytes() + reserved_ + more - onDisk > options_.quota)
      return Refusal::kQuota;
    uploading_.emplace(name, partial);
    ++uploads_;
    reserved_ += more;
    int64_t now = nowNs();
    if (now - lastSweepNs_ > kSweepIntervalNs) {
      lastSweepNs_ = now;
      sweep = true;
    }
  }
  if (sweep) pool_->submit([this] { sweepPartials(); });
  return Refusal::kNone;
}

void FileStore::unreserve(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  reserved_ -= bytes;
}

bool FileStore::charge(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (options_.quota > 0 && usedBytes() + reserved_ + bytes > options_.quota) return false;
  reserved_ += bytes;
  return true;
}

void FileStore::freeSlot() {
  std::lock_guard<std::mutex> lock(mutex_);
  --uploads_;
}

void FileStore::release(const std::string& name, bool slot, int64_t reserved, int64_t added,
                        int64_t removed) {
  std::lock_guard<std::mutex> lock(mutex_);
  uploading_.erase(name);
  if (slot) --uploads_;
  reserved_ -= reserved;
  used_.fetch_add(added - removed, std::memory_order_relaxed);
}

std::string FileStore::partialName(const std::string& name, int64_t size) {
  Sha256 sha;
  sha.update(name);
  return sha.hexDigest().substr(0, 32) + "-" + std::to_string(size) + ".part";
}

std::optional<std::pair<int64_t, int64_t>> FileStore::findPartial(const std::string& name) const {
  std::string prefix = partialName(name, 0).substr(0, 33);
  std::optional<std::pair<int64_t, int64_t>> found;
  forEachEntry(partial_.get(), [&](std::string_view entry) {
    if (entry.substr(0, prefix.size()) != prefix) return;
    std::string e(entry);
    struct stat st;
    if (::fstatat(partial_.get(), e.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    int64_t size = std::atoll(e.c_str() + prefix.size());
    found = {st.st_size, size};
  });
  return found;
}

void FileStore::sweepPartials() {
  int64_t cutoff = wallNs() - static_cast<int64_t>(options_.partialTtlSec * 1e9);
  forEachEntry(partial_.get(), [&](std::string_view entry) {
    std::string e(entry);
    struct stat st;
    // Under the lock: an upload admitted meanwhile owns its partial, and one admitted after
    // finds it gone.
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [name, partial] : uploading_) {
      if (partial == e) return;
    }
    if (::fstatat(partial_.get(), e.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (mtimeNs(st) > cutoff) return;
    if (::unlinkat(partial_.get(), e.c_str(), 0) == 0 && S_ISREG(st.st_mode))
      used_.fetch_sub(st.st_size, std::memory_order_relaxed);
  });
}

FileStore::Key FileStore::keyOf(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size, mtimeNs(st)};
}

// A record is "<size> <mtime ns> <sha256>" in .netlab/sums/<device>-<inode>: it outlives the
// process, and a file changed since (another size or mtime) no longer matches it.
std::optional<std::string> FileStore::knownSha(const struct stat& st) {
  Key key = keyOf(st);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = shas_.find(key);
    if (it != shas_.end()) return it->second;
  }
  std::string file = std::to_string(st.st_dev) + "-" + std::to_string(st.st_ino);
  Fd record(::openat(sums_.get(), file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!record.valid()) return std::nullopt;
  char text[160];
  ssize_t n = ::read(record.get(), text, sizeof text - 1);
  if (n <= 0) return std::nullopt;
  text[n] = '\0';
  long long size = 0, mtime = 0;
  char sha[65] = {};
  if (std::sscanf(text, "%lld %lld %64s", &size, &mtime, sha) != 3) return std::nullopt;
  if (size != st.st_size || mtime != mtimeNs(st) || std::string_view(sha).size() != 64)
    return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  rememberLocked(key, sha);
  return std::string(sha);
}

// Every upload is a new inode, so the keys only accumulate: past the bound the memory copy
// starts afresh, and the records on disk answer until it has filled again.
void FileStore::rememberLocked(const Key& key, const std::string& sha) {
  if (shas_.size() >= kMaxRememberedShas && !shas_.count(key)) shas_.clear();
  shas_[key] = sha;
}

void FileStore::rememberSha(const struct stat& st, const std::string& sha) {
  Key key = keyOf(st);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    rememberLocked(key, sha);
  }
  writeRecord(key, sha);
}

void FileStore::writeRecord(const Key& key, const std::string& sha) {
  std::string file = std::to_string(std::get<0>(key)) + "-" + std::to_string(std::get<1>(key));
  std::string temp = file + ".tmp";
  Fd out(::openat(sums_.get(), temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return;  // a record is an optimisation: without one the file is hashed again
  std::string text =
      std::to_string(std::get<2>(key)) + " " + std::to_string(std::get<3>(key)) + " " + sha + "\n";
  if (::write(out.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()))
    ::renameat(sums_.get(), temp.c_str(), sums_.get(), file.c_str());
}

void FileStore::hash(Fd file, const struct stat& st, std::function<void(const std::string&)> done) {
  Key key = keyOf(st);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& waiters = hashing_[key];
    waiters.push_back(std::move(done));
    if (waiters.size() > 1) return;  // one pass is under way
  }
  auto shared = std::make_shared<Fd>(std::move(file));
  hashPool_->submit([this, shared, st, key] {
    Sha256 sha;
    std::string block(kHashRead, '\0');
    off_t at = 0;
    bool ok = true;
    while (at < st.st_size) {
      ssize_t n = ::pread(shared->get(), block.data(), block.size(), at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false;
        break;
      }
      sha.update(std::string_view(block.data(), static_cast<size_t>(n)));
      at += n;
    }
    std::string digest = ok ? sha.hexDigest() : "";
    if (ok) {
      counters_.hashed.fetch_add(1, std::memory_order_relaxed);
      rememberSha(st, digest);
    }
    std::vector<std::function<void(const std::string&)>> waiters;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      waiters = std::move(hashing_[key]);
      hashing_.erase(key);
    }
    for (auto& w : waiters) w(digest);
  });
}

}  // namespace netlab::files
