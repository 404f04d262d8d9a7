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
    chat_.fanOut(chat_.roomOf(id_), "* " + nick_ + " joined " + chat_.options().lobby + "\n");
  }

  size_t onData(Conn& conn, Buffer& input) override {
    size_t lines = 0;
    FrameError error;
    bool ok = reader_.drain(input, [&](const FrameView& f) {
      if (!done_) onLine(conn, f.payload);
    }, lines, error);
    if (!ok) {
      conn.send("error: line too long (max " + std::to_string(chat_.options().maxLine) +
                " bytes)\n");
      conn.fail("line too long");
    }
    return lines;
  }

  void onClose(Conn&, std::string_view reason) override {
    std::string room;
    auto others = chat_.roomOf(id_, &room);
    chat_.leave(id_);
    bool dropped = reason.rfind("too slow", 0) == 0;
    chat_.fanOut(others, dropped ? "* " + nick_ + " was disconnected: " + std::string(reason) + "\n"
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
    message_.assign("<").append(nick_).append("> ").append(line).push_back('\n');
    chat_.fanOut(chat_.roomOf(id_), message_);
  }

  void command(Conn& conn, std::string_view line) {
    auto [cmd, rest] = splitWord(line);
    if (cmd == "/nick") return renameTo(conn, std::string(rest));
    if (cmd == "/join") return joinRoom(conn, std::string(rest));
    if (cmd == "/msg") return privateMessage(conn, rest);
    if (cmd == "/who") return conn.send(chat_.whoIn(id_));
    if (cmd == "/rooms") return conn.send(chat_.roomList());
    if (cmd == "/help") {
      return conn.send("* commands: /nick NAME, /join ROOM, /msg NAME text, /who, /rooms, "
                       "/quit (or exit)\n");
    }
    conn.send("error: unknown command " + std::string(cmd) + " (try /help)\n");
  }

  void renameTo(Conn& conn, const std::string& nick) {
    std::string old;
    std::string error = chat_.rename(id_, nick, &old);
    if (!error.empty()) return conn.send("error: " + error + "\n");
    nick_ = nick;
    conn.send("* you are now " + nick + "\n");
    chat_.fanOut(chat_.roomOf(id_), "* " + old + " is now " + nick + "\n");
  }

  void joinRoom(Conn& conn, const std::string& room) {
    auto oldOthers = chat_.roomOf(id_);
    std::string old;
    std::string error = chat_.move(id_, room, &old);
    if (!error.empty()) return conn.send("error: " + error + "\n");
    chat_.fanOut(oldOthers, "* " + nick_ + " left " + old + "\n");
    conn.send("* you joined " + room + "\n");
    chat_.fanOut(chat_.roomOf(id_), "* " + nick_ + " joined " + room + "\n");
  }

  void privateMessage(Conn& conn, std::string_view rest) {
    auto [target, text] = splitWord(rest);
    if (target.empty() || text.empty()) return conn.send("error: usage: /msg NAME text\n");
    std::shared_ptr<Outlet> to = chat_.byNick(std::string(target));
    if (!to) return conn.send("error: no such nick '" + std::string(target) + "'\n");
    chat_.fanOut({to}, "[private] <" + nick_ + "> " + std::string(text) + "\n");
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
    chat_.fanOut(chat_.roomOf(id_), frame(kServerInfo, 0, nick_ + " joined " + chat_.options().lobby));
  }

  size_t onData(Conn& conn, Buffer& input) override {
    size_t frames = 0;
    FrameError error;
    bool ok = reader_.drain(input, [&](const FrameView& f) {
      if (f.command != kClientChat) {
        conn.send(frame(kServerInfo, f.sequence, "error: unknown command " + std::to_string(f.command)));
        return;
      }
      conn.send(frame(kServerAck, f.sequence, {}));
      chat_.fanOut(chat_.roomOf(id_), frame(kServerEcho, f.sequence, f.payload));
    }, frames, error);
    if (!ok) conn.fail("bad frame at offset " + std::to_string(error.offset) + ": " + error.message);
    return frames;
  }

  void onClose(Conn&, std::string_view) override {
    std::string room;
    auto others = chat_.roomOf(id_, &room);
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

ChatProtocol::ChatProtocol(ChatOptions options) : options_(std::move(options)) {
  binary_ = options_.codec != nullptr;
  if (binary_) {
    codec_ = options_.codec;
  } else {
    Error unused;  // maxLine >= 1 is checked at the binding edge
    codec_ = makeLineCodec("\n", options_.maxLine, true, &unused);
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
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Outlet>> out;
  auto me = members_.find(id);
  if (me == members_.end()) return out;
  if (roomName) *roomName = me->second.room;
  for (uint64_t other : rooms_[me->second.room]) {
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

std::string ChatProtocol::whoIn(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string& room = members_[id].room;
  std::vector<std::string> nicks;
  for (uint64_t member : rooms_[room]) nicks.push_back(members_[member].nick);
  std::sort(nicks.begin(), nicks.end());
  std::string out = "* in " + room + ":";
  for (const auto& n : nicks) out += " " + n;
  return out + "\n";
}

std::string ChatProtocol::roomList() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "* rooms:";
  for (const auto& [room, ids] : rooms_) out += " " + room + " (" + std::to_string(ids.size()) + ")";
  return out + "\n";
}

void ChatProtocol::fanOut(const std::vector<std::shared_ptr<Outlet>>& to, std::string_view message) {
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
