// The directory a file server serves, and the one way names under it are opened: resolved
// beneath it by the kernel (openat2 RESOLVE_BENEATH: a "..", an absolute symlink or one that
// climbs out fails with EXDEV), or, on kernels before 5.6, component by component with
// O_NOFOLLOW, so no symlink is followed at all.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "netlab/io/fd.h"
#include "netlab/io/result.h"

namespace netlab::files {

class Root {
 public:
  /// Opens `path` (created if missing, as one directory).
  static Result<Root> open(const std::string& path);

  /// `name` (checked by nameProblem first) opened beneath the root with openat(2) flags;
  /// invalid with errno set on failure (EXDEV or ELOOP: it leads out of the root).
  Fd openBeneath(std::string_view name, int flags, mode_t mode = 0) const;
  /// The directory holding `name`, opened O_PATH beneath the root; `base` is set to the last
  /// component.
  Fd openParent(std::string_view name, std::string& base) const;
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  Fd fallbackOpen(std::string_view name, int flags, mode_t mode) const;
  bool insideHidden(int fd) const;

  Fd fd_;
  std::string path_;
  std::string hiddenPath_;  // the hidden area's real path
  bool openat2_ = true;
};

}  // namespace netlab::files
