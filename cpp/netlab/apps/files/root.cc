#include "netlab/apps/files/root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace netlab::files {

Result<Root> Root::open(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return sysError("mkdir " + path);
  Root root;
  root.fd_.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.fd_.valid()) return sysError("open " + path);
  root.path_ = path;
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH;
  Fd probe(static_cast<int>(::syscall(SYS_openat2, root.fd_.get(), ".", &how, sizeof how)));
  root.openat2_ = probe.valid() || errno != ENOSYS;
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
    int fd = static_cast<int>(::syscall(SYS_openat2, fd_.get(), path.c_str(), &how, sizeof how));
    if (fd >= 0 || errno != EAGAIN) return Fd(fd);  // EAGAIN: a rename raced the lookup
  }
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
