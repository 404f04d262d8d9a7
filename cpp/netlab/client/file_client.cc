#include "netlab/client/file_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "netlab/core/sha256.h"
#include "netlab/io/clock.h"
#include "netlab/io/socket.h"

namespace netlab {
namespace {

constexpr size_t kMaxReply = 4096;
constexpr size_t kBlock = 1 << 20;
constexpr size_t kSendFileChunk = 4 << 20;

// The errno a server refusal stands for, so Python raises the fitting OSError subclass.
int errnoOf(std::string_view reason) {
  if (reason == "not_found") return ENOENT;
  if (reason == "forbidden") return EACCES;
  if (reason == "busy") return EBUSY;
  if (reason == "quota") return ENOSPC;
  if (reason == "too_large") return EFBIG;
  if (reason == "too_many_uploads") return EAGAIN;
  if (reason == "bad_name" || reason == "bad_command") return EINVAL;
  if (reason == "bad_range") return ERANGE;
  if (reason == "checksum") return EILSEQ;
  return EIO;
}

Error refusal(const std::string& what, std::string_view line) {
  std::string_view rest = line.substr(std::min<size_t>(4, line.size()));  // after "ERR "
  std::string_view reason = rest.substr(0, rest.find(' '));
  return Error{errnoOf(reason), what + ": the server refused: " + std::string(rest)};
}

// Calls the progress callback at most every kTick, and says whether to go on.
struct Ticker {
  const FileClient::Progress& progress;
  int64_t total = 0;
  int64_t done = 0;
  int64_t lastNs = 0;
  bool tick(bool force = false) {
    int64_t now = nowNs();
    if (!progress || (!force && now - lastNs < static_cast<int64_t>(FileClient::kTick * 1e9)))
      return true;
    lastNs = now;
    return progress(done, total);
  }
};

Error cancelled() { return Error{ECANCELED, "transfer cancelled"}; }

Status hashPrefix(int fd, int64_t length, Sha256& sha, Ticker* ticker = nullptr) {
  std::string block(kBlock, '\0');
  int64_t at = 0;
  while (at < length) {
    if (ticker && !ticker->tick()) return cancelled();  // a large file takes seconds
    ssize_t n = ::pread(fd, block.data(), std::min<int64_t>(length - at, kBlock), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError("read");
    if (n == 0) return Error{EIO, "the file shrank while it was read"};
    sha.update(std::string_view(block.data(), static_cast<size_t>(n)));
    at += n;
  }
  return {};
}

}  // namespace

const std::vector<Field<FileClientOptions>>& Fields<FileClientOptions>::fields() {
  using O = FileClientOptions;
  static const std::vector<Field<O>> table = {
      text("host", &O::host, "address", "the server's address or name"),
      number("port", &O::port, 1, 65535, "", "the server's TCP port"),
      number("timeout", &O::timeoutSec, 0.001, 86400, "seconds",
             "for connecting, and the longest the server may stay silent during a call"),
  };
  return table;
}

// One connection: replies read as lines, waits sliced so the ticker is heard.
class FileClient::Session {
 public:
  static Result<Session> open(const FileClientOptions& o) {
    auto fd =
        connectTcp(o.host, static_cast<uint16_t>(o.port), static_cast<int>(o.timeoutSec * 1000));
    if (!fd.ok()) return fd.error();
    Status nb = setNonBlocking(fd.value().get(), true);
    if (!nb.ok()) return nb.error();
    ignoreSigpipeOnce();
    return Session(std::move(fd.value()), o.timeoutSec);
  }

  int fd() const { return fd_.get(); }

  /// Waits for `events`; their revents, or an Error on timeout or cancel.
  Result<short> wait(short events, Ticker& ticker) {
    int64_t deadline = nowNs() + static_cast<int64_t>(timeoutSec_ * 1e9);
    for (;;) {
      pollfd p{fd_.get(), events, 0};
      int rc = ::poll(&p, 1, static_cast<int>(kTick * 1000));
      if (rc < 0 && errno != EINTR) return sysError("poll");
      if (!ticker.tick()) return cancelled();
      if (rc > 0) return p.revents;
      if (nowNs() > deadline) {
        return Error{ETIMEDOUT, "the server sent nothing for " +
                                    std::to_string(static_cast<int>(timeoutSec_)) + " s"};
      }
    }
  }

  Status sendAll(std::string_view data, Ticker& ticker) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) return sysError("send");
      auto ready = wait(POLLOUT, ticker);
      if (!ready.ok()) return ready.error();
    }
    return {};
  }

  /// The next line the server sends, without its newline.
  Result<std::string> readLine(Ticker& ticker) {
    for (;;) {
      size_t nl = in_.find('\n');
      if (nl != std::string::npos) {
        std::string line = in_.substr(0, nl);
        in_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (in_.size() > kMaxReply) return Error{EPROTO, "the server's reply is too long"};
      auto got = readSome(ticker);
      if (!got.ok()) return got.error();
      if (got.value() == 0) return Error{ECONNRESET, "the server closed the connection"};
    }
  }

  /// Appends what arrives to in_; 0 at end of stream.
  Result<size_t> readSome(Ticker& ticker) {
    char buf[64 << 10];
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n >= 0) {
        in_.append(buf, static_cast<size_t>(n));
        return static_cast<size_t>(n);
      }
      if (errno != EAGAIN && errno != EINTR) return sysError("recv");
      auto ready = wait(POLLIN, ticker);
      if (!ready.ok()) return ready.error();
    }
  }

  std::string& input() { return in_; }

 private:
  Session(Fd fd, double timeoutSec) : fd_(std::move(fd)), timeoutSec_(timeoutSec) {}
  Fd fd_;
  double timeoutSec_;
  std::string in_;
};

Result<FileClient> FileClient::make(const FileClientOptions& options) {
  for (const auto& f : Fields<FileClientOptions>::fields()) {
    Status st = f.check(options);
    if (!st.ok()) return st.error();
  }
  return FileClient(options);
}

Result<std::string> sha256OfFile(const std::string& path) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!file.valid() || ::fstat(file.get(), &st) != 0) return sysError("open " + path);
  Sha256 sha;
  Status read = hashPrefix(file.get(), st.st_size, sha);
  if (!read.ok()) return read.error();
  return sha.hexDigest();
}

Result<FileClient::Transfer> FileClient::upload(const std::string& path, const std::string& name,
                                                bool resume, const Progress& progress) {
  auto t = uploadOnce(path, name, resume, progress);
  // A partial of another version of the file: the server found the whole wrong and dropped
  // it. Once more, from the first byte.
  if (!t.ok() && resume && t.error().code == EILSEQ) return uploadOnce(path, name, false, progress);
  return t;
}

Result<FileClient::Transfer> FileClient::uploadOnce(const std::string& path,
                                                    const std::string& name, bool resume,
                                                    const Progress& progress) {
  int64_t started = nowNs();
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!file.valid() || ::fstat(file.get(), &st) != 0) return sysError("open " + path);
  if (!S_ISREG(st.st_mode)) return Error{EISDIR, path + " is not a regular file"};
  Ticker ticker{progress, st.st_size};
  Sha256 sha;
  Status hashed = hashPrefix(file.get(), st.st_size, sha, &ticker);
  if (!hashed.ok()) return hashed.error();
  Transfer t{name, st.st_size, sha.hexDigest(), 0, 0};
  auto session = Session::open(options_);
  if (!session.ok()) return session.error();
  Session& s = session.value();
  std::string command = std::string(resume ? "RESUME " : "UPLOAD ") + name + " " +
                        std::to_string(t.size) + " " + t.sha256 + "\n";
  Status sent = s.sendAll(command, ticker);
  if (!sent.ok()) return sent.error();
  off_t offset = 0;
  if (resume) {
    auto line = s.readLine(ticker);
    if (!line.ok()) return line.error();
    if (line.value().rfind("ERR ", 0) == 0) return refusal("upload " + name, line.value());
    if (line.value().rfind("OFFSET ", 0) != 0)
      return Error{EPROTO, "unexpected reply: " + line.value()};
    offset = std::atoll(line.value().c_str() + 7);
    if (offset < 0 || offset > t.size) return Error{EPROTO, "bad offset: " + line.value()};
  }
  t.resumedFrom = offset;
  ticker.done = offset;
  while (offset < t.size) {
    size_t want = static_cast<size_t>(std::min<int64_t>(t.size - offset, kSendFileChunk));
    ssize_t n = ::sendfile(s.fd(), file.get(), &offset, want);
    if (n > 0) {
      ticker.done = offset;
      if (!ticker.tick()) return cancelled();
      continue;
    }
    if (n == 0) return Error{EIO, path + " shrank while it was sent"};
    if (errno != EAGAIN && errno != EINTR) {
      // The server refused and closed (a quota, a busy name): its reason beats EPIPE.
      Error broken = sysError("upload " + name);
      auto line = s.readLine(ticker);
      if (line.ok() && line.value().rfind("ERR ", 0) == 0)
        return refusal("upload " + name, line.value());
      return broken;
    }
    auto ready = s.wait(POLLOUT | POLLIN, ticker);
    if (!ready.ok()) return ready.error();
    if (ready.value() & POLLIN) break;  // the server spoke before the end: a refusal
  }
  auto line = s.readLine(ticker);
  if (!line.ok()) return line.error();
  if (line.value().rfind("ERR ", 0) == 0) return refusal("upload " + name, line.value());
  std::string expected = "OK " + std::to_string(t.size) + " " + t.sha256;
  if (line.value() != expected) {
    return Error{EIO, "upload " + name + ": the server stored something else: " + line.value()};
  }
  ticker.done = t.size;
  if (!ticker.tick(true)) return cancelled();
  t.seconds = static_cast<double>(nowNs() - started) / 1e9;
  return t;
}

Result<FileClient::Transfer> FileClient::download(const std::string& name, const std::string& path,
                                                  bool resume, const Progress& progress) {
  auto t = downloadOnce(name, path, resume, progress);
  // A partial from an older version of the file: its prefix does not match. Once, afresh.
  if (!t.ok() && resume && (t.error().code == ERANGE || t.error().code == EILSEQ))
    return downloadOnce(name, path, false, progress);
  return t;
}

Result<FileClient::Transfer> FileClient::downloadOnce(const std::string& name,
                                                      const std::string& path, bool resume,
                                                      const Progress& progress) {
  int64_t started = nowNs();
  std::string part = path + ".part";
  Fd file(::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644));
  struct stat st;
  if (!file.valid() || ::fstat(file.get(), &st) != 0) return sysError("open " + part);
  int64_t offset = st.st_size;
  Ticker ticker{progress, 0, offset};
  Sha256 sha;
  Status hashed = hashPrefix(file.get(), offset, sha, &ticker);
  if (!hashed.ok()) return hashed.error();
  auto session = Session::open(options_);
  if (!session.ok()) return session.error();
  Session& s = session.value();
  Status sent = s.sendAll("DOWNLOAD " + name + " " + std::to_string(offset) + "\n", ticker);
  if (!sent.ok()) return sent.error();
  auto line = s.readLine(ticker);
  if (!line.ok()) return line.error();
  if (line.value().rfind("ERR ", 0) == 0) return refusal("download " + name, line.value());
  char announced[65] = {};
  long long size = -1;
  if (std::sscanf(line.value().c_str(), "SIZE %lld %64s", &size, announced) != 2 || size < offset)
    return Error{EPROTO, "unexpected reply: " + line.value()};
  Transfer t{name, size, announced, offset, 0};
  ticker.total = size;
  int64_t at = offset;
  std::string& in = s.input();
  while (at < size) {
    if (in.empty()) {
      auto got = s.readSome(ticker);
      if (!got.ok()) return got.error();
      if (got.value() == 0) {
        return Error{ECONNRESET, "download " + name + ": the server closed at byte " +
                                     std::to_string(at) + " of " + std::to_string(size) +
                                     " (call again to resume)"};
      }
    }
    size_t n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(in.size()), size - at));
    std::string_view piece(in.data(), n);
    for (size_t done = 0; done < n;) {
      ssize_t w =
          ::pwrite(file.get(), piece.data() + done, n - done, at + static_cast<int64_t>(done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return sysError("write " + part);
      done += static_cast<size_t>(w);
    }
    sha.update(piece);
    in.erase(0, n);
    at += static_cast<int64_t>(n);
    ticker.done = at;
    if (!ticker.tick()) return cancelled();
  }
  std::string got = sha.hexDigest();
  if (got != t.sha256) {
    ::unlink(part.c_str());
    return Error{offset > 0 ? EILSEQ : EIO, "download " + name + ": sha256 mismatch (got " + got +
                                                ", the server said " + t.sha256 + ")"};
  }
  if (::rename(part.c_str(), path.c_str()) != 0) return sysError("rename " + part);
  if (!ticker.tick(true)) return cancelled();
  t.seconds = static_cast<double>(nowNs() - started) / 1e9;
  return t;
}

Result<FileClient::RemoteStat> FileClient::stat(const std::string& name) {
  Progress none;
  Ticker ticker{none};
  auto session = Session::open(options_);
  if (!session.ok()) return session.error();
  Status sent = session.value().sendAll("STAT " + name + "\n", ticker);
  if (!sent.ok()) return sent.error();
  auto line = session.value().readLine(ticker);
  if (!line.ok()) return line.error();
  const std::string& l = line.value();
  RemoteStat r;
  char sha[65] = {};
  long long a = 0, b = 0;
  if (std::sscanf(l.c_str(), "FILE %lld %64s", &a, sha) == 2) {
    r.exists = true;
    r.size = a;
    r.sha256 = sha;
  } else if (std::sscanf(l.c_str(), "PARTIAL %lld %lld", &a, &b) == 2) {
    r.partial = a;
    r.size = b;
  } else if (l != "NOFILE") {
    if (l.rfind("ERR ", 0) == 0) return refusal("stat " + name, l);
    return Error{EPROTO, "unexpected reply: " + l};
  }
  return r;
}

Result<std::vector<FileClient::Entry>> FileClient::list(const std::string& dir) {
  Progress none;
  Ticker ticker{none};
  auto session = Session::open(options_);
  if (!session.ok()) return session.error();
  Status sent = session.value().sendAll(dir.empty() ? "LIST\n" : "LIST " + dir + "\n", ticker);
  if (!sent.ok()) return sent.error();
  std::vector<Entry> entries;
  for (;;) {
    auto line = session.value().readLine(ticker);
    if (!line.ok()) return line.error();
    const std::string& l = line.value();
    if (l.rfind("END", 0) == 0) return entries;
    if (l.rfind("ERR ", 0) == 0) return refusal("list " + dir, l);
    if (l.rfind("DIR ", 0) == 0) {
      entries.push_back({l.substr(4), true, 0});
      continue;
    }
    size_t space = l.find(' ', 5);
    if (l.rfind("FILE ", 0) != 0 || space == std::string::npos)
      return Error{EPROTO, "unexpected reply: " + l};
    entries.push_back({l.substr(space + 1), false, std::atoll(l.c_str() + 5)});
  }
}

}  // namespace netlab
