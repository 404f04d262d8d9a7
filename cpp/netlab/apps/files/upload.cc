#include "netlab/apps/files/upload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

namespace netlab::files {
namespace {

std::atomic<uint64_t> nextTemp{1};

}  // namespace

Upload::Upload(FileStore& store, Spec spec, std::shared_ptr<Outlet> outlet, Notify notify)
    : store_(store),
      spec_(std::move(spec)),
      outlet_(std::move(outlet)),
      notify_(std::move(notify)) {}

Upload::~Upload() = default;

std::shared_ptr<Upload> Upload::start(FileStore& store, Spec spec, std::shared_ptr<Outlet> outlet,
                                      Notify notify, Refusal& refusal) {
  std::shared_ptr<Upload> up(
      new Upload(store, std::move(spec), std::move(outlet), std::move(notify)));
  const Spec& s = up->spec_;
  if (s.size >= 0) {
    up->fileName_ = FileStore::partialName(s.name, s.size);
  } else {
    up->fileName_ =
        "tmp-" + std::to_string(::getpid()) + "-" + std::to_string(nextTemp.fetch_add(1)) + ".part";
  }
  // The name first: from here on no other upload, and no sweep, touches this partial.
  refusal = store.admit(s.name, up->fileName_, s.size);
  if (refusal != Refusal::kNone) return nullptr;
  up->reserved_ = std::max<int64_t>(s.size, 0);
  up->file_.reset(::openat(store.partialDir(), up->fileName_.c_str(),
                           O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
  struct stat st;
  if (!up->file_.valid() || ::fstat(up->file_.get(), &st) != 0) {
    refusal = refusalOf(errno);
    store.release(s.name, true, up->reserved_, 0, 0);
    return nullptr;
  }
  int64_t have = s.resume && st.st_size <= s.size ? st.st_size : 0;
  if (have == 0 && st.st_size > 0) {  // a fresh start: what the old partial held is gone
    if (::ftruncate(up->file_.get(), 0) != 0) {
      refusal = refusalOf(errno);
      store.release(s.name, true, up->reserved_, 0, 0);
      return nullptr;
    }
    store.forget(st.st_size);
  }
  store.unreserve(have);  // already on disk, and counted
  up->reserved_ -= have;
  up->offset_ = up->received_ = have;
  if (have > 0) {
    store.counters().resumes.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(up->mutex_);
    up->prefixPending_ = true;
    up->schedule();  // the first job hashes what the partial holds
  }
  return up;
}

Refusal Upload::write(std::string_view bytes) {
  if (bytes.empty()) return Refusal::kNone;
  const FileOptions& o = store_.options();
  if (spec_.size < 0) {
    int64_t after = received_ + static_cast<int64_t>(bytes.size());
    if (o.maxFile > 0 && after > o.maxFile) return Refusal::kTooLarge;
    if (!store_.charge(static_cast<int64_t>(bytes.size()))) return Refusal::kQuota;
    reserved_ += static_cast<int64_t>(bytes.size());
  }
  received_ += static_cast<int64_t>(bytes.size());
  std::lock_guard<std::mutex> lock(mutex_);
  if (failedEarly_) return outcome_.refusal;
  while (!bytes.empty()) {
    if (chunks_.empty() || chunks_.back().size() >= kChunk) {
      chunks_.emplace_back();
      chunks_.back().reserve(kChunk);
    }
    std::string& back = chunks_.back();
    size_t n = std::min(bytes.size(), kChunk - std::min(kChunk, back.size()));
    if (n == 0) n = bytes.size();
    back.append(bytes.data(), n);
    bytes.remove_prefix(n);
    queued_ += n;
  }
  schedule();
  return Refusal::kNone;
}

bool Upload::behind() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queued_ < kBehind) return false;
  waiting_ = true;
  return true;
}

void Upload::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ending_ != End::kNo) return;
  ending_ = End::kFinish;
  schedule();
}

void Upload::abandon() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ending_ != End::kNo) return;
  ending_ = End::kAbandon;
  slotFreed_ = true;  // another client may start now; this one's name waits for the disk
  store_.freeSlot();
  notify_ = nullptr;  // the connection is closing: nothing more is said to it
  schedule();
}

// Under mutex_: one job at a time per upload keeps its writes in order.
void Upload::schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  store_.pool().submit([self = shared_from_this()] { self->drain(); });
}

void Upload::drain() {
  if (std::exchange(prefixPending_, false)) hashPrefix();
  for (;;) {
    std::string chunk;
    End end = End::kNo;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!chunks_.empty()) {
        chunk = std::move(chunks_.front());
        chunks_.pop_front();
      } else if (ending_ != End::kNo) {
        end = ending_;
      } else {
        scheduled_ = false;
        return;
      }
    }
    if (end != End::kNo) return complete(end);  // scheduled_ stays set: nothing follows
    writeChunk(chunk);
    std::lock_guard<std::mutex> lock(mutex_);
    queued_ -= chunk.size();
    if (waiting_ && queued_ <= kCaughtUp) {
      waiting_ = false;
      post(Event::kCaughtUp);
    }
  }
}

// A resumed upload's sha256 covers the whole file: what the partial held is hashed first.
void Upload::hashPrefix() {
  Fd in(::openat(store_.partialDir(), fileName_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  std::string block(kChunk, '\0');
  int64_t at = 0;
  while (in.valid() && at < offset_) {
    size_t want = static_cast<size_t>(std::min<int64_t>(offset_ - at, kChunk));
    ssize_t n = ::pread(in.get(), block.data(), want, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sha_.update(std::string_view(block.data(), static_cast<size_t>(n)));
    at += n;
  }
  if (at < offset_) fail(Refusal::kIoError, "cannot read the partial upload");
}

void Upload::writeChunk(const std::string& chunk) {
  if (error_ != 0 || failedEarly_) return;
  size_t done = 0;
  while (done < chunk.size()) {
    ssize_t n = ::pwrite(file_.get(), chunk.data() + done, chunk.size() - done,
                         offset_ + written_ + static_cast<int64_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = errno;
      written_ += static_cast<int64_t>(done);
      fail(refusalOf(error_), std::string("write: ") + std::strerror(error_));
      return;
    }
    done += static_cast<size_t>(n);
  }
  sha_.update(chunk);
  written_ += static_cast<int64_t>(chunk.size());
}

// A disk failure while bytes still come: the connection hears it now, not at the end.
void Upload::fail(Refusal refusal, std::string why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failedEarly_) return;
  failedEarly_ = true;
  outcome_.refusal = refusal;
  outcome_.why = std::move(why);
  post(Event::kFailed);
}

// Under mutex_ or from the last job.
void Upload::post(Event event) {
  if (!notify_ || !outlet_) return;
  outlet_->post([self = shared_from_this(), event](Conn& conn) {
    if (self->notify_) self->notify_(conn, *self, event);
  });
}

void Upload::dropFile() {
  file_.reset();
  ::unlinkat(store_.partialDir(), fileName_.c_str(), 0);
}

void Upload::complete(End end) {
  if (end == End::kAbandon || failedEarly_) {
    bool keep = spec_.size >= 0 && !failedEarly_;
    if (keep) {
      ::fdatasync(file_.get());  // a resume trusts what the partial holds
      file_.reset();
      store_.release(spec_.name, !slotFreed_, reserved_, written_, 0);
    } else {
      dropFile();
      store_.release(spec_.name, !slotFreed_, reserved_, 0, offset_);
    }
    if (failedEarly_ && end == End::kFinish) post(Event::kDone);
    return;
  }
  commit();
  post(Event::kDone);
}

void Upload::commit() {
  Outcome& o = outcome_;
  auto refuse = [&](Refusal r, std::string why) {
    o.refusal = r;
    o.why = std::move(why);
    dropFile();
    store_.release(spec_.name, !slotFreed_, reserved_, 0, offset_);
  };
  int64_t total = offset_ + written_;
  if (spec_.size >= 0 && total != spec_.size) return refuse(Refusal::kIoError, "short upload");
  if (::fsync(file_.get()) != 0) return refuse(refusalOf(errno), "fsync failed");
  o.sha = sha_.hexDigest();
  o.size = total;
  if (!spec_.sha.empty() && spec_.sha != o.sha) {
    return refuse(Refusal::kChecksum, "sha256 mismatch: got " + o.sha);
  }
  std::string base;
  Fd parent = store_.root().openParent(spec_.name, base);
  if (!parent.valid()) return refuse(refusalOf(errno), "no such directory");
  struct stat old;
  int64_t replaced = 0;
  o.created = true;
  if (::fstatat(parent.get(), base.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(old.st_mode)) return refuse(Refusal::kForbidden, "a directory has that name");
    o.created = false;
    if (S_ISREG(old.st_mode)) replaced = old.st_size;
  }
  if (::renameat(store_.partialDir(), fileName_.c_str(), parent.get(), base.c_str()) != 0) {
    return refuse(refusalOf(errno), std::string("rename: ") + std::strerror(errno));
  }
  ::fsync(parent.get());  // the rename itself survives a crash
  struct stat st;
  if (::fstat(file_.get(), &st) == 0) store_.rememberSha(st, o.sha);
  file_.reset();
  store_.counters().stored.fetch_add(1, std::memory_order_relaxed);
  store_.release(spec_.name, !slotFreed_, reserved_, written_, replaced);
}

}  // namespace netlab::files
