// The file server's pieces that need no socket: names, confinement beneath the root, the
// disk thread pool, the SHA extensions against the portable code, and protocol detection.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>

#include "netlab/apps/files/names.h"
#include "netlab/apps/files/root.h"
#include "netlab/core/protocol_sniffer.h"
#include "netlab/core/sha256.h"
#include "netlab/core/work_pool.h"

namespace netlab {
namespace {

TEST(Sha256, ShaExtensionsAgreeWithPortableCode) {
  std::mt19937 rng(7);
  std::string data(300000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t length : {0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 65536, 299999}) {
    Sha256 fast, portable;
    portable.setPortableOnly(true);
    size_t at = 0, step = 1 + length % 97;
    while (at < length) {
      size_t n = std::min(step, length - at);
      fast.update(std::string_view(data).substr(at, n));
      portable.update(std::string_view(data).substr(at, n));
      at += n;
    }
    EXPECT_EQ(fast.hexDigest(), portable.hexDigest()) << length;
  }
  Sha256 abc;
  abc.update("abc");
  EXPECT_EQ(abc.hexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(FileNames, OnlyPathsThatStayBeneathTheRoot) {
  using files::nameProblem;
  for (const char* ok : {"a", "a.txt", "dir/a", "a b", ".hidden", "d/.netlab", "..a", "a.."}) {
    EXPECT_EQ(nameProblem(ok), "") << ok;
  }
  for (const char* bad : {"", "/etc/passwd", "..", "../x", "a/../b", "a/..", "./a", "a//b", "a/",
                          ".netlab", ".netlab/partial/x", "a\nb", "a\tb", "a\x7f"}) {
    EXPECT_NE(nameProblem(bad), "") << bad;
  }
  EXPECT_NE(nameProblem(std::string("a\0b", 3)), "");
  EXPECT_NE(nameProblem(std::string(2000, 'a')), "");
  std::string decoded;
  EXPECT_TRUE(files::percentDecode("a%20b%2Fc", decoded));
  EXPECT_EQ(decoded, "a b/c");
  EXPECT_FALSE(files::percentDecode("a%2", decoded));
  EXPECT_FALSE(files::percentDecode("a%zz", decoded));
  EXPECT_EQ(files::percentEncode("a b/ü"), "a%20b/%C3%BC");
  EXPECT_EQ(files::htmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

class RootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/netlab-root-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    outside_ = base_ + "/outside.txt";
    Fd(::open(outside_.c_str(), O_WRONLY | O_CREAT, 0644));
    ::mkdir((base_ + "/root").c_str(), 0755);
    ::mkdir((base_ + "/root/sub").c_str(), 0755);
    Fd(::open((base_ + "/root/sub/in.txt").c_str(), O_WRONLY | O_CREAT, 0644));
    EXPECT_EQ(::symlink(outside_.c_str(), (base_ + "/root/abs").c_str()), 0);
    EXPECT_EQ(::symlink("../outside.txt", (base_ + "/root/rel").c_str()), 0);
    EXPECT_EQ(::symlink("..", (base_ + "/root/up").c_str()), 0);
    EXPECT_EQ(::symlink("sub/in.txt", (base_ + "/root/inside").c_str()), 0);
  }
  void TearDown() override { std::system(("rm -rf " + base_).c_str()); }
  std::string base_, outside_;
};

TEST_F(RootTest, SymlinksLeadingOutFail) {
  auto root = files::Root::open(base_ + "/root");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root.value().openBeneath("sub/in.txt", O_RDONLY).valid());
  for (const char* escape : {"abs", "rel", "up/outside.txt", "sub/../../outside.txt"}) {
    Fd fd = root.value().openBeneath(escape, O_RDONLY);
    EXPECT_FALSE(fd.valid()) << escape;
    EXPECT_TRUE(errno == EXDEV || errno == ELOOP || errno == ENOTDIR) << escape << " " << errno;
  }
  std::string base;
  Fd parent = root.value().openParent("up/x", base);
  EXPECT_FALSE(parent.valid());
  parent = root.value().openParent("sub/new.txt", base);
  EXPECT_TRUE(parent.valid());
  EXPECT_EQ(base, "new.txt");
}

TEST(WorkPool, RunsEveryJobBeforeItStops) {
  std::atomic<int> ran{0};
  {
    WorkPool pool(3);
    for (int i = 0; i < 1000; ++i) pool.submit([&] { ran.fetch_add(1); });
    pool.wait();
    EXPECT_EQ(ran.load(), 1000);
    for (int i = 0; i < 100; ++i) pool.submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 1100);
}

// A Conn that records what the sniffer and the chosen handler do with it.
class SniffConn final : public Conn {
 public:
  void send(std::string_view data) override { sent += data; }
  bool sendFile(int, int64_t, int64_t) override { return false; }
  size_t queuedOutput() const override { return 0; }
  void pauseReading() override {}
  void resumeReading() override {}
  void shutdownWrite() override {}
  void closeAfterFlush() override {}
  void close(CloseReason) override {}
  void fail(std::string_view reason) override { failed = std::string(reason); }
  TimerHandle runAfter(double, std::function<void()> task) override {
    timer = std::move(task);
    return 1;
  }
  bool cancelTimer(TimerHandle) override {
    timer = nullptr;
    return true;
  }
  void connect(const std::string&, uint16_t, double, std::unique_ptr<Handler>) override {}
  uint64_t id() const override { return 1; }
  const std::string& peer() const override { return peer_; }
  std::shared_ptr<Outlet> outlet() override { return nullptr; }

  std::string sent, failed, peer_ = "127.0.0.1:1";
  std::function<void()> timer;
};

class Named final : public Handler {
 public:
  explicit Named(std::string name) : name_(std::move(name)) {}
  size_t onData(Conn& conn, Buffer& input) override {
    conn.send(name_ + ":" + std::string(input.view()) + ";");
    input.consume(input.readable());
    return 1;
  }
  std::string name_;
};

ProtocolSniffer makeSniffer() {
  return ProtocolSniffer(
      [](std::string_view first, bool final) -> std::unique_ptr<Handler> {
        if (first.substr(0, 4) == "GET ") return std::make_unique<Named>("http");
        if (!final && std::string_view("GET ").substr(0, first.size()) == first) return nullptr;
        return std::make_unique<Named>("line");
      },
      1.0, 8);
}

TEST(ProtocolSniffer, WaitsForEnoughBytesThenHandsOver) {
  SniffConn conn;
  ProtocolSniffer sniffer = makeSniffer();
  sniffer.onOpen(conn);
  Buffer input;
  input.append("GE");
  EXPECT_EQ(sniffer.onData(conn, input), 0u);
  EXPECT_EQ(sniffer.chosen(), nullptr);
  input.append("T / HTTP/1.1\r\n");
  sniffer.onData(conn, input);
  EXPECT_EQ(conn.sent, "http:GET / HTTP/1.1\r\n;");
  EXPECT_FALSE(conn.timer);  // cancelled once chosen
}

TEST(ProtocolSniffer, SilenceGetsTheDefault) {
  SniffConn conn;
  ProtocolSniffer sniffer = makeSniffer();
  sniffer.onOpen(conn);
  Buffer input;
  input.append("G");
  sniffer.onData(conn, input);
  ASSERT_TRUE(conn.timer);
  conn.timer();
  EXPECT_EQ(conn.sent, "line:G;");
}

}  // namespace
}  // namespace netlab
