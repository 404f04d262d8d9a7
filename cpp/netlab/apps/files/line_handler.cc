#include "netlab/apps/files/line_handler.h"

#include <fcntl.h>

#include <algorithm>
#include <cctype>

#include "netlab/apps/files/names.h"

namespace netlab::files {
namespace {

std::vector<std::string_view> splitWords(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

bool sameWord(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == y;
         });
}

// A decimal count of bytes: digits only, at most 18 of them.
bool parseCount(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

bool parseSha(std::string_view s, std::string& out) {
  if (s.size() != 64) return false;
  out.clear();
  for (char c : s) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f'))) return false;
    out += l;
  }
  return true;
}

}  // namespace

LineHandler::LineHandler(FileProtocol& protocol)
    : store_(protocol.store()), stall_([this] {
        store_.counters().refuse(Refusal::kStalled);
        if (conn_) conn_->close({CloseKind::kIdleTimeout, 0, "upload stalled"});
      }) {}

void LineHandler::onOpen(Conn& conn) { conn_ = &conn; }

size_t LineHandler::onData(Conn& conn, Buffer& input) {
  conn_ = &conn;
  size_t handled = 0;
  while (!closing_) {
    if (receiving_) {
      receive(conn, input);
      if (receiving_ || waiting_) return handled;
      continue;
    }
    if (waiting_ || !conn.budgetLeft()) return handled;
    std::string_view view = input.view();
    size_t nl = view.find('\n');
    if (nl == std::string_view::npos) {
      if (view.size() > kMaxLine) refuse(conn, Refusal::kBadCommand, "line too long", true);
      return handled;
    }
    std::string line(view.substr(0, nl));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    input.consume(nl + 1);
    ++handled;
    command(conn, line);
  }
  return handled;
}

void LineHandler::command(Conn& conn, std::string_view line) {
  std::vector<std::string_view> w = splitWords(line);
  size_t n = w.size();
  std::string_view verb = n ? w[0] : std::string_view{};
  if (sameWord(verb, "UPLOAD") && n == 2) return classicUpload(conn, w[1]);
  if (sameWord(verb, "UPLOAD") && (n == 3 || n == 4)) return startUpload(conn, w, false);
  if (sameWord(verb, "RESUME") && (n == 3 || n == 4)) return startUpload(conn, w, true);
  if (sameWord(verb, "DOWNLOAD") && n == 2) return classicDownload(conn, w[1]);
  if (sameWord(verb, "DOWNLOAD") && n == 3) return download(conn, w[1], w[2]);
  if (sameWord(verb, "STAT") && n == 2) return stat(conn, w[1]);
  if (sameWord(verb, "LIST") && n <= 2) return list(conn, n == 2 ? w[1] : std::string_view{});
  if (sameWord(verb, "QUIT") && n == 1) {
    closing_ = true;
    return conn.closeAfterFlush();
  }
  refuse(conn, Refusal::kBadCommand, "unknown command", true);
}

void LineHandler::refuse(Conn& conn, Refusal r, std::string_view why, bool close) {
  store_.counters().refuse(r);
  std::string out = "ERR " + std::string(refusalName(r));
  if (!why.empty()) out += " " + std::string(why);
  out += "\n";
  conn.send(out);
  if (close) {
    closing_ = true;
    conn.closeAfterFlush();
  }
}

void LineHandler::wait(Conn& conn) {
  waiting_ = true;
  conn.pauseReading();
}

// After the answer is queued: the next command, or the close a half-closed client waits for.
void LineHandler::done(Conn& conn) {
  waiting_ = false;
  if (peerDone_) {
    closing_ = true;
    return conn.closeAfterFlush();
  }
  conn.resumeReading();
}

// --- uploads ----------------------------------------------------------------------------

void LineHandler::startUpload(Conn& conn, const std::vector<std::string_view>& args, bool resume) {
  Upload::Spec spec;
  spec.name = std::string(args[1]);
  spec.resume = resume;
  // A refused UPLOAD closes: its bytes are already on their way. RESUME waits for OFFSET.
  bool close = !resume;
  if (!parseCount(args[2], spec.size) || (args.size() == 4 && !parseSha(args[3], spec.sha))) {
    return refuse(conn, Refusal::kBadCommand, "size or sha256 malformed", close);
  }
  std::string_view problem = nameProblem(spec.name);
  if (!problem.empty()) return refuse(conn, Refusal::kBadName, problem, close);
  Refusal r = Refusal::kNone;
  auto notify = [this](Conn& c, Upload& u, Upload::Event e) { onUploadEvent(c, u, e); };
  upload_ = Upload::start(store_, std::move(spec), conn.outlet(), notify, r);
  if (!upload_) return refuse(conn, r, {}, close);
  classic_ = false;
  uploadLeft_ = upload_->size() - upload_->offset();
  if (resume) conn.send("OFFSET " + std::to_string(upload_->offset()) + "\n");
  receiving_ = true;
  stall_.set(conn, store_.options().uploadTimeoutSec);
}

void LineHandler::classicUpload(Conn& conn, std::string_view name) {
  Refusal r = nameProblem(name).empty() ? Refusal::kNone : Refusal::kBadName;
  if (r == Refusal::kNone) {
    Upload::Spec spec;
    spec.name = std::string(name);
    auto notify = [this](Conn& c, Upload& u, Upload::Event e) { onUploadEvent(c, u, e); };
    upload_ = Upload::start(store_, std::move(spec), conn.outlet(), notify, r);
  }
  if (!upload_) {
    store_.counters().refuse(r);
    conn.send("NOFILE");
    closing_ = true;
    return conn.closeAfterFlush();
  }
  conn.send("OK");
  classic_ = receiving_ = true;
  uploadLeft_ = -1;
  stall_.set(conn, store_.options().uploadTimeoutSec);
}

void LineHandler::receive(Conn& conn, Buffer& input) {
  std::string_view v = input.view();
  size_t n = uploadLeft_ < 0 ? v.size() : std::min<size_t>(v.size(), uploadLeft_);
  if (n > 0) {
    Refusal r = upload_->write(v.substr(0, n));
    input.consume(n);
    if (r != Refusal::kNone) {
      receiving_ = false;
      stall_.clear();
      if (!classic_) return refuse(conn, r, {}, true);
      store_.counters().refuse(r);  // the classic protocol has no word for it after OK
      closing_ = true;
      return conn.close({CloseKind::kLocalClose, 0, std::string(refusalName(r))});
    }
    if (uploadLeft_ > 0) uploadLeft_ -= static_cast<int64_t>(n);
    stall_.set(conn, store_.options().uploadTimeoutSec);
  }
  if (uploadLeft_ == 0) {
    receiving_ = false;
    stall_.clear();
    upload_->finish();
    return wait(conn);
  }
  if (!diskBehind_ && upload_->behind()) {
    diskBehind_ = true;
    stall_.clear();  // the wait is the disk's, not the client's
    conn.pauseReading();
  }
}

void LineHandler::onUploadEvent(Conn& conn, Upload& upload, Upload::Event event) {
  if (&upload != upload_.get() || closing_) return;
  switch (event) {
    case Upload::Event::kCaughtUp:
      if (!diskBehind_) return;
      diskBehind_ = false;
      if (!receiving_) return;
      stall_.set(conn, store_.options().uploadTimeoutSec);
      conn.resumeReading();
      return;
    case Upload::Event::kFailed:
      receiving_ = false;
      stall_.clear();
      if (classic_) {
        store_.counters().refuse(upload.outcome().refusal);
        closing_ = true;
        return conn.close({CloseKind::kIoError, 0, upload.outcome().why});
      }
      return refuse(conn, upload.outcome().refusal, upload.outcome().why, true);
    case Upload::Event::kDone: {
      std::shared_ptr<Upload> keep = std::move(upload_);
      const Upload::Outcome& o = keep->outcome();
      if (classic_) {  // the classic server just closes once the file is stored
        if (o.refusal != Refusal::kNone) store_.counters().refuse(o.refusal);
        closing_ = true;
        return conn.closeAfterFlush();
      }
      if (o.refusal != Refusal::kNone) {
        refuse(conn, o.refusal, o.why);
      } else {
        conn.send("OK " + std::to_string(o.size) + " " + o.sha + "\n");
      }
      return done(conn);
    }
  }
}

bool LineHandler::onEof(Conn&) {
  peerDone_ = true;
  if (receiving_ && classic_) {  // the classic upload ends when the client closes
    receiving_ = false;
    stall_.clear();
    upload_->finish();
    waiting_ = true;
    return true;
  }
  return waiting_;  // an answer is still to come
}

void LineHandler::onClose(Conn&, const CloseReason&) {
  stall_.clear();
  if (upload_ && !upload_->ending()) upload_->abandon();
  upload_.reset();
  conn_ = nullptr;
}

// --- downloads ----------------------------------------------------------------------------

void LineHandler::classicDownload(Conn& conn, std::string_view name) {
  Opened o = openForReading(store_, name, false);
  closing_ = true;
  if (o.refusal != Refusal::kNone) {
    store_.counters().refuse(o.refusal);
    conn.send("NOFILE");
    return conn.closeAfterFlush();
  }
  conn.send("OK");
  sendRange(conn, o.fd.get(), 0, o.st.st_size, store_.counters());
  conn.closeAfterFlush();  // the classic client reads until the server closes
}

void LineHandler::download(Conn& conn, std::string_view name, std::string_view offsetText) {
  int64_t offset = 0;
  if (!parseCount(offsetText, offset)) return refuse(conn, Refusal::kBadCommand, "bad offset");
  Opened o = openForReading(store_, name, false);
  if (o.refusal != Refusal::kNone) return refuse(conn, o.refusal);
  if (offset > o.st.st_size) return refuse(conn, Refusal::kBadRange, "offset past the end");
  withSha(conn, std::move(o), [this, offset](Conn& c, Opened& f, const std::string& sha) {
    int64_t size = f.st.st_size;
    c.send("SIZE " + std::to_string(size) + " " + sha + "\n");
    sendRange(c, f.fd.get(), offset, size - offset, store_.counters());
  });
}

void LineHandler::stat(Conn& conn, std::string_view name) {
  Opened o = openForReading(store_, name, false);
  if (o.refusal == Refusal::kNotFound) {
    auto partial = store_.findPartial(std::string(name));
    if (!partial) return conn.send("NOFILE\n");
    return conn.send("PARTIAL " + std::to_string(partial->first) + " " +
                     std::to_string(partial->second) + "\n");
  }
  if (o.refusal != Refusal::kNone) return refuse(conn, o.refusal);
  withSha(conn, std::move(o), [](Conn& c, Opened& f, const std::string& sha) {
    c.send("FILE " + std::to_string(f.st.st_size) + " " + sha + "\n");
  });
}

void LineHandler::list(Conn& conn, std::string_view dir) {
  Opened o = openForReading(store_, dir, true);
  if (o.refusal != Refusal::kNone) return refuse(conn, o.refusal);
  if (!o.isDir()) return refuse(conn, Refusal::kBadName, "not a directory");
  std::string out;
  size_t count = 0;
  for (const Entry& e : listDirectory(o.fd.get(), dir.empty(), kMaxList)) {
    if (e.name.find(' ') != std::string::npos) continue;  // not nameable in this protocol
    out += e.dir ? "DIR " + e.name + "\n" : "FILE " + std::to_string(e.size) + " " + e.name + "\n";
    ++count;
  }
  out += "END " + std::to_string(count) + "\n";
  conn.send(out);
}

void LineHandler::withSha(Conn& conn, Opened file,
                          std::function<void(Conn&, Opened&, const std::string&)> then) {
  if (auto sha = store_.knownSha(file.st)) return then(conn, file, *sha);
  wait(conn);  // hashed once on a disk thread, however many ask
  uint64_t serial = ++serial_;
  Fd copy(::fcntl(file.fd.get(), F_DUPFD_CLOEXEC, 0));
  struct stat st = file.st;
  auto held = std::make_shared<Opened>(std::move(file));
  auto outlet = conn.outlet();
  store_.hash(std::move(copy), st, [this, outlet, serial, held, then](const std::string& sha) {
    outlet->post([this, serial, held, then, sha](Conn& c) {
      if (serial != serial_ || closing_) return;
      if (sha.empty()) {
        refuse(c, Refusal::kIoError, "cannot read the file");
      } else {
        then(c, *held, sha);
      }
      done(c);
    });
  });
}

}  // namespace netlab::files
