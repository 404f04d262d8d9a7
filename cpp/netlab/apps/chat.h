// Broadcast chat with nicknames, rooms and private messages, as one protocol handler that
// runs under every I/O model. The room registry is shared by all of a server's threads; the
// handlers reach each other only through Outlets, which every model makes thread-safe.
//
// Text mode (lines, "\n" or "\r\n"): a plain line goes to the other members of the sender's
// room as "<nick> text", with control characters other than tab (and invalid UTF-8) replaced
// by '?'. Commands: /nick NAME, /join ROOM, /msg NAME text, /who [PAGE], /rooms [PAGE], /help,
// /quit (or a bare "exit"). Server notices start with "* ", errors with "error: ". Joins,
// leaves and nick changes are announced only in rooms of at most announce_limit members.
// Binary mode (HeaderCodec): CLIENT_CHAT gets SERVER_ACK to the sender and SERVER_ECHO to
// the room; joins and leaves are SERVER_INFO.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "netlab/codec/codec.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"

namespace netlab {

struct ChatOptions {
  int64_t maxLine = 4096;
  int64_t maxQueue = 1 << 20;  // per client; past it the client is dropped as too slow
  size_t maxNick = 32;
  std::string lobby = "lobby";
  /// Rooms larger than this are not told of joins, leaves and renames: N clients connecting
  /// would otherwise cost N^2/2 notices (large IRC networks do the same).
  int64_t announceLimit = 100;
  std::shared_ptr<const Codec> codec;  // null: text lines; HeaderCodec: binary mode
};

template <>
struct Fields<ChatOptions> {
  static const std::vector<Field<ChatOptions>>& fields();
};

/// What stats() adds for chat.
struct ChatSnapshot {
  std::map<std::string, size_t> rooms;  // members per room
  uint64_t relayed = 0;                 // messages delivered to other members
  uint64_t members = 0;
};

class ChatProtocol final : public Protocol {
 public:
  explicit ChatProtocol(ChatOptions options);
  std::string_view name() const override { return "chat"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override { return codec_->maxWireFrame(); }
  size_t maxQueuedOutput() const override { return static_cast<size_t>(options_.maxQueue); }
  ChatSnapshot snapshot() const;
  bool binary() const { return binary_; }

  struct Member {
    std::string nick;
    std::string room;
    std::shared_ptr<Outlet> outlet;
  };

  // The registry. Each call takes the lock briefly and never delivers while holding it, so
  // a delivery that drops a slow member (and so calls leave()) cannot deadlock.
  std::string join(uint64_t id, std::shared_ptr<Outlet> outlet);
  void leave(uint64_t id);
  /// Outlets of the room's members other than `id`.
  std::vector<std::shared_ptr<Outlet>> roomOf(uint64_t id, std::string* room = nullptr);
  /// roomOf() for a notice about `id`: empty when the room is over the announce limit.
  std::vector<std::shared_ptr<Outlet>> noticeTo(uint64_t id, std::string* room = nullptr);
  std::string rename(uint64_t id, const std::string& nick, std::string* old);
  std::string move(uint64_t id, const std::string& room, std::string* old);
  std::shared_ptr<Outlet> byNick(const std::string& nick);
  /// One page of the room's members (kPageSize per page) or of the rooms: a reply that grows
  /// with the room would let one client make the server write without bound.
  std::string whoIn(uint64_t id, size_t page);
  std::string roomList(size_t page);
  static constexpr size_t kPageSize = 50;
  /// Delivers to every outlet; counts the deliveries.
  void fanOut(const std::vector<std::shared_ptr<Outlet>>& to, std::string_view message);
  const ChatOptions& options() const { return options_; }
  OptionMap optionValues() const override { return valuesOf(options_); }

 private:
  /// Outlets of the room's members other than `id`; none when the room is over largestRoom.
  std::vector<std::shared_ptr<Outlet>> othersIn(uint64_t id, std::string* room, size_t largestRoom);
  ChatOptions options_;
  std::shared_ptr<const Codec> codec_;
  bool binary_;
  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, Member> members_;
  std::unordered_map<std::string, uint64_t> nicks_;
  std::map<std::string, std::vector<uint64_t>> rooms_;
  uint64_t nextGuest_ = 1;
  std::atomic<uint64_t> relayed_{0};
};

}  // namespace netlab
