#include "netlab/apps/chat.h"

#include <algorithm>
#include <cctype>

#include "netlab/codec/frame_reader.h"

namespace netlab {
namespace {

constexpr uint8_t kClientChat = 16, kServerEcho = 17, kServerAck = 18, kServerInfo = 19;

bool validName(const std::string& name, size_t maxLength) {
  if (name.empty() || name.size() > maxLength) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '#' || c == '.';
  });
}

// Relayed text cannot carry terminal control: ESC sequences, BEL, NUL, CR, C1 controls and
// invalid UTF-8 become '?', so one member cannot clear, recolour or fake everyone's screen.
std::string printableText(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    auto at = [&](size_t k) { return static_cast<unsigned char>(in[i + k]); };
    unsigned char c = at(0);
    if (c < 0x80) {
      out.push_back((c < 0x20 && c != '\t') || c == 0x7f ? '?' : static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (at(k) & 0xc0) == 0x80;
    if (ok) {  // no C1 controls (U+0080-U+009F), overlong forms, surrogates or past U+10FFFF
      unsigned char second = at(1);
      ok = !(c == 0xc2 && second < 0xa0) && !(c == 0xe0 && second < 0xa0) &&
           !(c == 0xed && second >= 0xa0) && !(c == 0xf0 && second < 0x90) &&
           !(c == 0xf4 && second >= 0x90);
    }
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(in.substr(i, len));
    i += len;
  }
  return out;
}

size_t pageNumber(std::string_view arg) {
  size_t page = 0;
  for (char c : arg) {
    if (c < '0' || c > '9' || page > 1'000'000) return 1;
    page = page * 10 + static_cast<size_t>(c - '0');
  }
  return page == 0 ? 1 : page;
}

// "/cmd rest" -> ("/cmd", "rest")
std::pair<std::string_view, std::string_view> splitWord(std::string_view s) {
  size_t space = s.find(' ');
  if (space == std::string_view::npos) return {s, {}};
  std::string_view rest = s.substr(space + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return {s.substr(0, space), rest};
}

class TextChatHandler final : public Handler {
 public:
  explicit TextChatHandler(ChatProtocol& chat, std::shared_ptr<const Codec> lines)
      : chat_(chat), reader_(std::move(lines)) {}

  void onOpen(Conn& conn) override {
    id_ = conn.id();
    nick_ = chat_.join(id_, conn.outlet());
    conn.send("* welcome " + nick_ + ", you are in " + chat_.options().lobby +
              "; /help lists commands\n");
    chat_.fanOut(chat_.noticeTo(id_), "* " + nick_ + " joined " + chat_.options().lobby + "\n");
  }

  size_t onData(Conn& conn, Buffer& input) override {
    size_t lines = 0;
    FrameError error;
    bool ok = reader_.drain(
        input,
        [&](const FrameView& f) {
          if (!done_) onLine(conn, f.payload);
        },
        lines, error, [&] { return conn.budgetLeft(); });
    if (!ok) {
      conn.send("error: line too long (max " + std::to_string(chat_.options().maxLine) +
                " bytes)\n");
      conn.fail("line too long");
    }
    return lines;
  }

  // The room hears chat's own words, decided by the kind: the engine's text stays in the log.
  void onClose(Conn&, const CloseReason& reason) override {
    std::string room;
    auto others = chat_.noticeTo(id_, &room);
    chat_.leave(id_);
    bool dropped = reason.kind == CloseKind::kSlowConsumer;
    chat_.fanOut(others, dropped ? "* " + nick_ + " was disconnected: too slow: over " +
                                       std::to_string(chat_.options().maxQueue) + " bytes queued\n"
                                 : "* " + nick_ + " left " + room + "\n");
  }

 private:
  void onLine(Conn& conn, std::string_view line) {
    if (line == "exit" || line == "/quit") {
      conn.send("* bye\n");
      conn.closeAfterFlush();
      done_ = true;
      return;
    }
    if (line.empty()) return;
    if (line.front() == '/') {
      command(conn, line);
      return;
    }
    message_.assign("<").append(nick_).append("> ").append(printableText(line)).push_back('\n');
    chat_.fanOut(chat_.roomOf(id_), message_);
  }

  void command(Conn& conn, std::string_view line) {
    auto [cmd, rest] = splitWord(line);
    if (cmd == "/nick") return renameTo(conn, std::string(rest));
    if (cmd == "/join") return joinRoom(conn, std::string(rest));
    if (cmd == "/msg") return privateMessage(conn, rest);
    if (cmd == "/who") return conn.send(chat_.whoIn(id_, pageNumber(rest)));
    if (cmd == "/rooms") return conn.send(chat_.roomList(pageNumber(rest)));
    if (cmd == "/help") {
      return conn.send(
          "* commands: /nick NAME, /join ROOM, /msg NAME text, /who [PAGE], "
          "/rooms [PAGE], /quit (or exit)\n");
    }
    conn.send("error: unknown command " + std::string(cmd) + " (try /help)\n");
  }

  void renameTo(Conn& conn, const std::string& nick) {
    std::string old;
    std::string error = chat_.rename(id_, nick, &old);
    if (!error.empty()) return conn.send("error: " + error + "\n");
    nick_ = nick;
    conn.send("* you are now " + nick + "\n");
    chat_.fanOut(chat_.noticeTo(id_), "* " + old + " is now " + nick + "\n");
  }

  void joinRoom(Conn& conn, const std::string& room) {
    auto oldOthers = chat_.noticeTo(id_);
    std::string old;
    std::string error = chat_.move(id_, room, &old);
    if (!error.empty()) return conn.send("error: " + error + "\n");
    chat_.fanOut(oldOthers, "* " + nick_ + " left " + old + "\n");
    conn.send("* you joined " + room + "\n");
    chat_.fanOut(chat_.noticeTo(id_), "* " + nick_ + " joined " + room + "\n");
  }

  void privateMessage(Conn& conn, std::string_view rest) {
    auto [target, text] = splitWord(rest);
    if (target.empty() || text.empty()) return conn.send("error: usage: /msg NAME text\n");
    std::shared_ptr<Outlet> to = chat_.byNick(std::string(target));
    if (!to) return conn.send("error: no such nick '" + std::string(target) + "'\n");
    chat_.fanOut({to}, "[private] <" + nick_ + "> " + printableText(text) + "\n");
  }

  ChatProtocol& chat_;
  FrameReader reader_;
  uint64_t id_ = 0;
  std::string nick_;
  std::string message_;
  bool done_ = false;
};

class BinaryChatHandler final : public Handler {
 public:
  BinaryChatHandler(ChatProtocol& chat, std::shared_ptr<const Codec> codec)
      : chat_(chat), codec_(codec), reader_(std::move(codec)) {}

  void onOpen(Conn& conn) override {
    id_ = conn.id();
    nick_ = chat_.join(id_, conn.outlet());
    conn.send(frame(kServerInfo, 0, "welcome " + nick_));
    chat_.fanOut(chat_.noticeTo(id_),
                 frame(kServerInfo, 0, nick_ + " joined " + chat_.options().lobby));
  }

  size_t onData(Conn& conn, Buffer& input) override {
    size_t frames = 0;
    FrameError error;
    bool ok = reader_.drain(
        input,
        [&](const FrameView& f) {
          if (f.command != kClientChat) {
            conn.send(frame(kServerInfo, f.sequence,
                            "error: unknown command " + std::to_string(f.command)));
            return;
          }
          conn.send(frame(kServerAck, f.sequence, {}));
          chat_.fanOut(chat_.roomOf(id_), frame(kServerEcho, f.sequence, f.payload));
        },
        frames, error, [&] { return conn.budgetLeft(); });
    if (!ok)
      conn.fail("bad frame at offset " + std::to_string(error.offset) + ": " + error.message);
    return frames;
  }

  void onClose(Conn&, const CloseReason&) override {
    std::string room;
    auto others = chat_.noticeTo(id_, &room);
    chat_.leave(id_);
    chat_.fanOut(others, frame(kServerInfo, 0, nick_ + " left " + room));
  }

 private:
  std::string frame(uint8_t command, uint32_t sequence, std::string_view payload) const {
    std::string out;
    FrameError unused;  // payloads are within max_payload: they came in through the codec
    codec_->encode(FrameView{payload, 0, command, sequence}, out, unused);
    return out;
  }

  ChatProtocol& chat_;
  std::shared_ptr<const Codec> codec_;
  FrameReader reader_;
  uint64_t id_ = 0;
  std::string nick_;
};

}  // namespace

const std::vector<Field<ChatOptions>>& Fields<ChatOptions>::fields() {
  static const std::vector<Field<ChatOptions>> table = {
      number("max_line", &ChatOptions::maxLine, 1, kMaxLineLimit, "bytes",
             "longest accepted line; a longer one closes the connection"),
      number("max_queue", &ChatOptions::maxQueue, 1024, static_cast<double>(int64_t{1} << 30),
             "bytes",
             "output a client may have waiting; past it the client is dropped as too slow"),
      number("announce_limit", &ChatOptions::announceLimit, 0, 10'000'000, "members",
             "rooms with more members are not told of joins, leaves and nick changes"),
  };
  return table;
}

ChatProtocol::ChatProtocol(ChatOptions options) : options_(std::move(options)) {
  binary_ = options_.codec != nullptr;
  if (binary_) {
    codec_ = options_.codec;
  } else {
    Error unused;  // maxLine >= 1 is checked with the options
    codec_ = makeLineCodec("\n", static_cast<size_t>(options_.maxLine), true, &unused);
  }
}

std::unique_ptr<Handler> ChatProtocol::newHandler() {
  if (binary_) return std::make_unique<BinaryChatHandler>(*this, codec_);
  return std::make_unique<TextChatHandler>(*this, codec_);
}

std::string ChatProtocol::join(uint64_t id, std::shared_ptr<Outlet> outlet) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string nick;
  do {
    nick = "guest" + std::to_string(nextGuest_++);
  } while (nicks_.count(nick));
  members_[id] = Member{nick, options_.lobby, std::move(outlet)};
  nicks_[nick] = id;
  rooms_[options_.lobby].push_back(id);
  return nick;
}

void ChatProtocol::leave(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = members_.find(id);
  if (it == members_.end()) return;
  auto& room = rooms_[it->second.room];
  room.erase(std::remove(room.begin(), room.end(), id), room.end());
  if (room.empty() && it->second.room != options_.lobby) rooms_.erase(it->second.room);
  nicks_.erase(it->second.nick);
  members_.erase(it);
}

std::vector<std::shared_ptr<Outlet>> ChatProtocol::roomOf(uint64_t id, std::string* roomName) {
  return othersIn(id, roomName, SIZE_MAX);
}

std::vector<std::shared_ptr<Outlet>> ChatProtocol::noticeTo(uint64_t id, std::string* roomName) {
  return othersIn(id, roomName, static_cast<size_t>(options_.announceLimit));
}

// One lookup under one lock: the room's size and its members are read together.
std::vector<std::shared_ptr<Outlet>> ChatProtocol::othersIn(uint64_t id, std::string* roomName,
                                                            size_t largestRoom) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Outlet>> out;
  auto me = members_.find(id);
  if (me == members_.end()) return out;
  if (roomName) *roomName = me->second.room;
  const std::vector<uint64_t>& room = rooms_[me->second.room];
  if (room.size() > largestRoom) return out;
  for (uint64_t other : room) {
    if (other != id) out.push_back(members_[other].outlet);
  }
  return out;
}

std::string ChatProtocol::rename(uint64_t id, const std::string& nick, std::string* old) {
  if (!validName(nick, options_.maxNick)) {
    return "invalid nick '" + nick + "' (1-" + std::to_string(options_.maxNick) +
           " letters, digits, _ - . #)";
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto taken = nicks_.find(nick);
  if (taken != nicks_.end()) {
    return taken->second == id ? "you are already " + nick : "nick '" + nick + "' is taken";
  }
  Member& me = members_[id];
  *old = me.nick;
  nicks_.erase(me.nick);
  me.nick = nick;
  nicks_[nick] = id;
  return "";
}

std::string ChatProtocol::move(uint64_t id, const std::string& room, std::string* old) {
  if (!validName(room, 32)) return "invalid room '" + room + "' (1-32 letters, digits, _ - . #)";
  std::lock_guard<std::mutex> lock(mutex_);
  Member& me = members_[id];
  if (me.room == room) return "you are already in " + room;
  *old = me.room;
  auto& from = rooms_[me.room];
  from.erase(std::remove(from.begin(), from.end(), id), from.end());
  if (from.empty() && me.room != options_.lobby) rooms_.erase(me.room);
  me.room = room;
  rooms_[room].push_back(id);
  return "";
}

std::shared_ptr<Outlet> ChatProtocol::byNick(const std::string& nick) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = nicks_.find(nick);
  return it == nicks_.end() ? nullptr : members_[it->second].outlet;
}

namespace {

// "(120 members, page 2/3; /who 3 for the next)" when there is more than one page.
std::string pageNote(size_t total, const char* what, size_t page, size_t pages, const char* cmd) {
  if (pages <= 1) return "";
  std::string note = " (" + std::to_string(total) + " " + what + ", page " + std::to_string(page) +
                     "/" + std::to_string(pages);
  if (page < pages)
    note += "; " + std::string(cmd) + " " + std::to_string(page + 1) + " for the next";
  return note + ")";
}

size_t clampPage(size_t page, size_t total, size_t* pages) {
  *pages = std::max<size_t>(1, (total + ChatProtocol::kPageSize - 1) / ChatProtocol::kPageSize);
  return std::min(page, *pages);
}

}  // namespace

std::string ChatProtocol::whoIn(uint64_t id, size_t page) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string& room = members_[id].room;
  const std::vector<uint64_t>& ids = rooms_[room];
  size_t pages;
  page = clampPage(page, ids.size(), &pages);
  std::string out = "* in " + room + ":";
  size_t end = std::min(ids.size(), page * kPageSize);
  for (size_t i = (page - 1) * kPageSize; i < end; ++i) out += " " + members_[ids[i]].nick;
  return out + pageNote(ids.size(), "members", page, pages, "/who") + "\n";
}

std::string ChatProtocol::roomList(size_t page) {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t pages;
  page = clampPage(page, rooms_.size(), &pages);
  std::string out = "* rooms:";
  auto it = rooms_.begin();
  std::advance(it, static_cast<long>((page - 1) * kPageSize));
  for (size_t n = 0; n < kPageSize && it != rooms_.end(); ++n, ++it) {
    out += " " + it->first + " (" + std::to_string(it->second.size()) + ")";
  }
  return out + pageNote(rooms_.size(), "rooms", page, pages, "/rooms") + "\n";
}

void ChatProtocol::fanOut(const std::vector<std::shared_ptr<Outlet>>& to,
                          std::string_view message) {
  uint64_t delivered = 0;
  for (const auto& outlet : to) delivered += outlet->deliver(message) ? 1 : 0;
  relayed_.fetch_add(delivered, std::memory_order_relaxed);
}

ChatSnapshot ChatProtocol::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ChatSnapshot s;
  for (const auto& [room, ids] : rooms_) s.rooms[room] = ids.size();
  s.members = members_.size();
  s.relayed = relayed_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace netlab
