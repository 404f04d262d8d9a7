// A client's name opened for reading, confined to the root.
#pragma once

#include <sys/stat.h>

#include <string_view>

#include "netlab/apps/files/store.h"
#include "netlab/core/handler.h"

namespace netlab::files {

struct Opened {
  Fd fd;
  struct stat st {};
  Refusal refusal = Refusal::kNone;
  bool isDir() const { return S_ISDIR(st.st_mode); }
};

/// `name` checked and opened beneath the root: a regular file, or a directory when `dirOk`.
/// An empty name with dirOk is the root itself.
Opened openForReading(const FileStore& store, std::string_view name, bool dirOk);

/// Queues `length` bytes of `fd` from `offset` for the peer: through sendfile(2), or, for a
/// range of at most kCopyBelow bytes, read and copied, so a client that asks for thousands of
/// small files and reads nothing holds copies counted against its high-water mark, not
/// thousands of duplicated fds. Counts the download; closes the connection when the file
/// cannot be read.
constexpr int64_t kCopyBelow = 64 << 10;
void sendRange(Conn& conn, int fd, int64_t offset, int64_t length, FileCounters& counters);

struct Entry {
  std::string name;
  bool dir = false;
  int64_t size = 0;
  int64_t mtime = 0;  // seconds
};
/// The entries of an open directory, sorted by name, at most `limit` of them; the hidden
/// area, and names no client could ask for, are left out.
std::vector<Entry> listDirectory(int dirFd, bool isRoot, size_t limit);

}  // namespace netlab::files
