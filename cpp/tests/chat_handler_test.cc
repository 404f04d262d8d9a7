// The chat handler and the load scenarios below the socket level: a protocol is bytes in and
// calls on its Conn out, so it can be tested without a loop or a socket.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "netlab/apps/chat.h"
#include "netlab/load/scenario.h"
#include "recording_conn.h"

namespace netlab {
namespace {

struct Member {
  RecordingConn conn;
  std::unique_ptr<Handler> handler;
  Buffer input;
  explicit Member(uint64_t id) : conn(id) {}
  size_t type(std::string_view bytes) {
    input.append(bytes);
    return handler->onData(conn, input);
  }
  std::string take() { return std::exchange(conn.sent, {}); }
};

class ChatHandlerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Member> join(uint64_t id) {
    auto m = std::make_unique<Member>(id);
    m->handler = chat.newHandler();
    m->handler->onOpen(m->conn);
    return m;
  }
  ChatProtocol chat{ChatOptions{}};
};

TEST_F(ChatHandlerTest, LinesReachTheOtherMembersOfTheRoom) {
  auto alice = join(1);
  auto bob = join(2);
  EXPECT_NE(alice->take().find("* guest2 joined lobby"), std::string::npos);
  bob->take();
  EXPECT_EQ(alice->type("/nick alice\nhello\r\npartial"), 2u);
  EXPECT_EQ(alice->input.view(), "partial");  // the partial line waits for its end
  std::string got = bob->take();
  EXPECT_NE(got.find("* guest1 is now alice\n"), std::string::npos) << got;
  EXPECT_NE(got.find("<alice> hello\n"), std::string::npos) << got;
  EXPECT_EQ(alice->take().find("<alice>"), std::string::npos);  // not echoed to the sender
}

TEST_F(ChatHandlerTest, ControlCharactersAreNotRelayed) {
  auto alice = join(1);
  auto bob = join(2);
  bob->take();
  alice->type("\x1b[2Jhi\n");
  EXPECT_NE(bob->take().find("<guest1> ?[2Jhi\n"), std::string::npos);
}

TEST_F(ChatHandlerTest, ALineTooLongIsAnErrorAndACloseNotAHang) {
  auto alice = join(1);
  alice->take();
  alice->type(std::string(static_cast<size_t>(ChatOptions{}.maxLine) + 10, 'x'));
  EXPECT_NE(alice->take().find("error: line too long"), std::string::npos);
  EXPECT_TRUE(alice->conn.closing);
  EXPECT_FALSE(alice->conn.failed.empty());
}

// The room hears chat's own words, chosen by the close kind: the engine's text (which may
// carry byte counts and errno texts) never goes out on the wire.
TEST_F(ChatHandlerTest, LeavingIsAnnouncedFromTheCloseKind) {
  auto alice = join(1);
  auto bob = join(2);
  auto carol = join(3);
  carol->take();
  alice->handler->onClose(alice->conn, {CloseKind::kPeerClosed, 0, "closed"});
  EXPECT_NE(carol->take().find("* guest1 left lobby\n"), std::string::npos);
  bob->handler->onClose(bob->conn,
                        {CloseKind::kSlowConsumer, 0, "too slow: internal text (123456)"});
  std::string got = carol->take();
  EXPECT_NE(got.find("* guest2 was disconnected: too slow: over 1048576 bytes queued\n"),
            std::string::npos)
      << got;
  EXPECT_EQ(got.find("internal text"), std::string::npos);
  EXPECT_EQ(chat.snapshot().members, 1u);
}

TEST_F(ChatHandlerTest, TheBudgetStopsABatchAndTheRestWaits) {
  auto alice = join(1);
  auto bob = join(2);
  bob->take();
  std::string many;
  for (int i = 0; i < 10; ++i) many += "m" + std::to_string(i) + "\n";
  alice->conn.budget = 3;
  EXPECT_EQ(alice->type(many), 3u);
  EXPECT_EQ(alice->input.view().substr(0, 3), "m3\n");  // the rest waits in the input
  alice->conn.budget = SIZE_MAX;
  EXPECT_EQ(alice->handler->onData(alice->conn, alice->input), 7u);
  std::string got = bob->take();
  EXPECT_NE(got.find("<guest1> m0\n"), std::string::npos);
  EXPECT_NE(got.find("<guest1> m9\n"), std::string::npos);
}

// Scenarios judge bytes, not sockets.
TEST(ScenarioTest, EchoMatchesItsOwnRequestAndRejectsAnother) {
  LoadConfig config;
  config.host = "127.0.0.1";
  config.port = 1;
  config.scenario = "echo";
  config.size = 16;
  auto scenario = makeScenario(config);
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  Buffer request;
  scenario.value()->writeRequest(7, request);
  ASSERT_EQ(request.readable(), 16u);
  size_t scanned = 0, consumed = 0;
  std::string why;
  ResponseInfo info;
  std::string reply(request.view());
  EXPECT_EQ(scenario.value()->readResponse(7, reply.substr(0, 5), scanned, consumed, why, info),
            Verdict::kIncomplete);
  EXPECT_EQ(scenario.value()->readResponse(7, reply, scanned, consumed, why, info), Verdict::kOk);
  EXPECT_EQ(consumed, 16u);
  Buffer other;
  scenario.value()->writeRequest(8, other);
  scanned = 0;
  if (other.view() != request.view()) {
    EXPECT_EQ(scenario.value()->readResponse(7, other.view(), scanned, consumed, why, info),
              Verdict::kMismatch);
    EXPECT_FALSE(why.empty());
  }
}

TEST(ScenarioTest, LineScenarioWantsTheExpectedLine) {
  LoadConfig config;
  config.host = "127.0.0.1";
  config.port = 1;
  config.scenario = "line";
  config.request = "ping";
  config.expect = "pong";
  auto scenario = makeScenario(config);
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  Buffer request;
  scenario.value()->writeRequest(1, request);
  EXPECT_EQ(request.view(), "ping\n");
  size_t scanned = 0, consumed = 0;
  std::string why;
  ResponseInfo info;
  EXPECT_EQ(scenario.value()->readResponse(1, "po", scanned, consumed, why, info),
            Verdict::kIncomplete);
  scanned = 0;
  EXPECT_EQ(scenario.value()->readResponse(1, "pong\n", scanned, consumed, why, info),
            Verdict::kOk);
  EXPECT_EQ(consumed, 5u);
  scanned = 0;
  EXPECT_EQ(scenario.value()->readResponse(1, "received: ping\n", scanned, consumed, why, info),
            Verdict::kMismatch);
}

}  // namespace
}  // namespace netlab
