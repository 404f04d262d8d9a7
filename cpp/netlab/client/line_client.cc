#include "netlab/client/line_client.h"

#include <sys/socket.h>

#include <chrono>
#include <cstring>

#include "netlab/codec/stream_decoder.h"
#include "netlab/io/socket.h"

namespace netlab {

const std::vector<Field<LineClientOptions>>& Fields<LineClientOptions>::fields() {
  using O = LineClientOptions;
  static const std::vector<Field<O>> table = {
      text("host", &O::host, "address", "the server's address or name"),
      number("port", &O::port, 1, 65535, "", "the server's TCP port"),
      number("timeout", &O::timeoutSec, 0.001, 3600, "seconds", "for connecting"),
      number("max_line", &O::maxLine, 1, kMaxLineLimit, "bytes",
             "a longer incoming line ends the connection"),
  };
  return table;
}

Result<std::unique_ptr<LineClient>> LineClient::connect(const LineClientOptions& o) {
  Status valid = checkFields(o);
  if (!valid.ok()) return valid.error();
  Error error;
  auto lines = makeLineCodec("\n", static_cast<size_t>(o.maxLine), true, &error);
  if (!lines) return error;
  auto fd =
      connectTcp(o.host, static_cast<uint16_t>(o.port), static_cast<int>(o.timeoutSec * 1000));
  if (!fd.ok()) return fd.error();
  setNoDelay(fd.value().get());
  return std::make_unique<LineClient>(std::move(fd.value()), std::move(lines));
}

LineClient::LineClient(Fd fd, std::shared_ptr<const Codec> lines)
    : fd_(std::move(fd)), lines_(std::move(lines)) {
  reader_ = std::thread([this] { readLoop(); });
}

LineClient::~LineClient() { close(); }

Status LineClient::send(std::string_view line) {
  if (line.find('\n') != std::string_view::npos) {
    return Error{EINVAL, "a line must not contain a newline"};
  }
  std::string wire(line);
  wire.push_back('\n');
  std::lock_guard<std::mutex> lock(writeMutex_);
  std::string_view left = wire;
  while (!left.empty()) {
    ssize_t n = ::send(fd_.get(), left.data(), left.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sysError("send");
    }
    left.remove_prefix(n);
  }
  return {};
}

LineClient::Recv LineClient::recv(double timeoutSec, std::string& line) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ready = [this] { return !queue_.empty() || eof_; };
  if (timeoutSec < 0) {
    changed_.wait(lock, ready);
  } else if (!changed_.wait_for(lock, std::chrono::duration<double>(timeoutSec), ready)) {
    return Recv::kTimeout;
  }
  if (queue_.empty()) return Recv::kClosed;
  line = std::move(queue_.front());
  queue_.pop_front();
  changed_.notify_all();  // the reader may be waiting for room
  return Recv::kLine;
}

std::string LineClient::closeReason() {
  std::lock_guard<std::mutex> lock(mutex_);
  return closeReason_;
}

void LineClient::readLoop() {
  StreamDecoder decoder(lines_);
  char chunk[16384];
  std::string reason;
  for (;;) {
    ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0) reason = std::string("recv: ") + std::strerror(errno);
      break;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    bool ok = decoder.feed(std::string_view(chunk, n), [&](const FrameView& f) {
      changed_.wait(lock, [this] { return queue_.size() < kMaxQueuedLines || closing_; });
      queue_.emplace_back(f.payload);
    });
    changed_.notify_all();
    if (!ok) {
      reason = "bad line: " + decoder.error().message;
      break;
    }
    if (closing_) break;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  eof_ = true;
  if (!closing_) closeReason_ = reason;
  changed_.notify_all();
}

void LineClient::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    changed_.notify_all();
  }
  if (fd_.valid()) ::shutdown(fd_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  std::lock_guard<std::mutex> lock(writeMutex_);  // no send() may be using the fd now
  fd_.reset();
}

}  // namespace netlab
