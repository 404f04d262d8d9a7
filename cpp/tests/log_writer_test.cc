#include "netlab/io/log_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "netlab/apps/http_proxy/access_log.h"
#include "netlab/http/parser.h"

namespace netlab {
namespace {

std::string tempPath() {
  char name[] = "/tmp/netlab_log_XXXXXX";
  int fd = ::mkstemp(name);
  EXPECT_GE(fd, 0);
  ::close(fd);
  return name;
}

TEST(LogWriterTest, AppendsInOrderAndFlushes) {
  std::string path = tempPath();
  {
    auto w = LogWriter::open(path);
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 1000; ++i) w.value()->append("line " + std::to_string(i) + "\n");
    w.value()->flush();
    std::ifstream in(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) EXPECT_EQ(line, "line " + std::to_string(n++));
    EXPECT_EQ(n, 1000);
    w.value()->append("last\n");
  }  // the destructor writes what is pending
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  EXPECT_NE(all.str().find("line 999\nlast\n"), std::string::npos);
  ::unlink(path.c_str());
}

TEST(LogWriterTest, AStalledFileDropsRatherThanBlocks) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // nobody reads: the writer's write(2) blocks once it is full
  auto w = LogWriter::open("/proc/self/fd/" + std::to_string(fds[1]));
  ASSERT_TRUE(w.ok());
  std::string line(1023, 'x');
  line += '\n';
  size_t accepted = 0;
  for (int i = 0; i < 16 * 1024; ++i) accepted += w.value()->append(line) ? 1 : 0;  // 16 MiB
  EXPECT_GT(w.value()->dropped(), 0u);
  // At most kMaxPending waits, beside the batch the writer is stuck on.
  EXPECT_LE(accepted * line.size(), 2 * LogWriter::kMaxPending);
  // Drain the pipe so the writer can finish and stop.
  std::thread reader([fd = fds[0]] {
    char buf[65536];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
  });
  w.value().reset();
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
}

TEST(LogWriterTest, OpenSaysWhy) {
  auto w = LogWriter::open("/nonexistent-dir/x.log");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ENOENT);
  EXPECT_NE(w.error().message.find("/nonexistent-dir/x.log"), std::string::npos);
}

TEST(AccessLogTest, CombinedFormatThenUpstreamAndTimes) {
  http::Parser parser(http::Role::kRequest, {});
  std::string request =
      "GET /a?b HTTP/1.1\r\nHost: h\r\nReferer: http://r/\r\nUser-Agent: ua \"q\"\\\x80\r\n\r\n";
  ASSERT_EQ(parser.next(request).type, http::Event::kHead);
  apps::proxy::AccessNote note(true);
  note.begin(&parser.head(), 1'000'000'000);
  note.upstreamStarted("10.0.0.1:80", 1'100'000'000);
  note.status(200);
  note.body(1234);
  std::string out;
  ASSERT_TRUE(note.finish(out, "127.0.0.1", 1'350'000'000));
  EXPECT_FALSE(note.finish(out, "127.0.0.1", 1'350'000'000));  // once
  size_t time = out.find("] ");
  ASSERT_NE(time, std::string::npos);
  EXPECT_EQ(out.substr(0, 14), "127.0.0.1 - - ");
  EXPECT_EQ(out.substr(time + 2),
            "\"GET /a?b HTTP/1.1\" 200 1234 \"http://r/\" \"ua \\x22q\\x22\\x5C\\x80\" "
            "10.0.0.1:80 0.250 0.350\n");
  apps::proxy::AccessNote abandoned(true);
  abandoned.begin(nullptr, 0);
  out.clear();
  abandoned.finish(out, "::1", 0);
  EXPECT_NE(out.find("\"-\" 499 0 \"-\" \"-\" - - 0.000\n"), std::string::npos) << out;
  std::string stamp;
  apps::proxy::appendLogTime(stamp, 1'795'435'200);  // 2026-11-23 12:00:00 UTC
  EXPECT_EQ(stamp, "[23/Nov/2026:12:00:00 +0000]");
}

}  // namespace
}  // namespace netlab
