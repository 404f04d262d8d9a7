#include "netlab/apps/files/root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "netlab/apps/files/names.h"

namespace netlab::files {

Result<Root> Root::open(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return sysError("mkdir " + path);
  Root root;
  root.fd_.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.fd_.valid()) return sysError("open " + path);
  root.path_ = path;
  char real[4096];
  if (::realpath(path.c_str(), real))
    root.hiddenPath_ = std::string(real) + "/" + std::string(kHiddenDir);
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH;
  Fd probe(static_cast<int>(::syscall(SYS_openat2, root.fd_.get(), ".", &how, sizeof how)));
  root.openat2_ = probe.valid();  // ENOSYS, or a seccomp filter's EPERM: walk instead
  return root;
}

Fd Root::openBeneath(std::string_view name, int flags, mode_t mode) const {
  std::string path(name);
  if (!openat2_) return fallbackOpen(path, flags, mode);
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    Fd fd(static_cast<int>(::syscall(SYS_openat2, fd_.get(), path.c_str(), &how, sizeof how)));
    if (!fd.valid() && errno == EAGAIN) continue;  // a rename raced the lookup
    if (fd.valid() && insideHidden(fd.get())) {
      errno = EACCES;
      return Fd();
    }
    return fd;
  }
}

// A symlink inside the root may lead into its hidden area (pub -> .netlab), which names alone
// cannot show: where the opened file really is decides.
bool Root::insideHidden(int fd) const {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[4096];
  ssize_t n = ::readlink(link, target, sizeof target);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof target) return false;  // no /proc: trust names
  std::string_view path(target, static_cast<size_t>(n));
  return path == hiddenPath_ || path.substr(0, hiddenPath_.size() + 1) == hiddenPath_ + "/";
}

// Walks the directories with O_NOFOLLOW so a symlink anywhere on the way fails with ELOOP
// (or ENOTDIR): stricter than RESOLVE_BENEATH, which follows links that stay inside.
Fd Root::fallbackOpen(std::string_view name, int flags, mode_t mode) const {
  int dir = fd_.get();
  Fd held;
  size_t start = 0;
  for (;;) {
    size_t slash = name.find('/', start);
    std::string part(
        name.substr(start, slash == std::string_view::npos ? name.npos : slash - start));
    if (slash == std::string_view::npos) {
      int fd = ::openat(dir, part.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
      return Fd(fd);
    }
    Fd next(::openat(dir, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return next;
    held = std::move(next);
    dir = held.get();
    start = slash + 1;
  }
}

Fd Root::openParent(std::string_view name, std::string& base) const {
  size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) {
    base = std::string(name);
    return Fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  }
  base = std::string(name.substr(slash + 1));
  return openBeneath(name.substr(0, slash), O_PATH | O_DIRECTORY);
}

}  // namespace netlab::files
