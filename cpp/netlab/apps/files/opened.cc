#include "netlab/apps/files/opened.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "netlab/apps/files/names.h"

namespace netlab::files {

Opened openForReading(const FileStore& store, std::string_view name, bool dirOk) {
  Opened o;
  if (name.empty() && dirOk) {
    o.fd.reset(::fcntl(store.root().fd(), F_DUPFD_CLOEXEC, 0));
  } else if (!nameProblem(name).empty()) {
    o.refusal = Refusal::kBadName;
    return o;
  } else {
    o.fd = store.root().openBeneath(name, O_RDONLY | O_NONBLOCK);
  }
  if (!o.fd.valid() || ::fstat(o.fd.get(), &o.st) != 0) {
    o.refusal = refusalOf(errno);
    o.fd.reset();
    return o;
  }
  if (!S_ISREG(o.st.st_mode) && !(dirOk && S_ISDIR(o.st.st_mode))) {
    o.refusal = Refusal::kForbidden;  // a directory, a device, a FIFO
    o.fd.reset();
  }
  return o;
}

void sendRange(Conn& conn, int fd, int64_t offset, int64_t length, FileCounters& counters) {
  counters.served.fetch_add(1, std::memory_order_relaxed);
  if (length > kCopyBelow) {
    counters.sendfileBytes.fetch_add(length, std::memory_order_relaxed);
    conn.sendFile(fd, offset, length);
    return;
  }
  std::string copy(static_cast<size_t>(length), '\0');
  int64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, copy.data() + done, static_cast<size_t>(length - done), offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return conn.close(CloseReason::fromErrno("pread", n < 0 ? errno : EIO));
    done += n;
  }
  conn.send(copy);
}

std::vector<Entry> listDirectory(int dirFd, bool isRoot, size_t limit) {
  std::vector<Entry> out;
  int copy = ::openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return out;
  DIR* d = ::fdopendir(copy);
  if (!d) {
    ::close(copy);
    return out;
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (isRoot && name == kHiddenDir) continue;
    if (!nameProblem(name).empty()) continue;
    struct stat st;
    if (::fstatat(dirFd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    // Symlinks are left out: one may point out of the root, and listing it would tell its size.
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
    out.push_back({std::string(name), S_ISDIR(st.st_mode), st.st_size, st.st_mtim.tv_sec});
    if (out.size() >= limit) break;
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

}  // namespace netlab::files
