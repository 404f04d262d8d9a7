#include "netlab/io/small_thread.h"

#include <cerrno>
#include <cstring>
#include <utility>

namespace netlab {
namespace {

void* runBody(void* arg) {
  std::unique_ptr<std::function<void()>> body(static_cast<std::function<void()>*>(arg));
  (*body)();
  return nullptr;
}

}  // namespace

Result<SmallThread> SmallThread::start(std::function<void()> body) {
  pthread_attr_t attr;
  if (int err = ::pthread_attr_init(&attr); err != 0) {
    return Error{err, std::string("pthread_attr_init: ") + std::strerror(err)};
  }
  ::pthread_attr_setstacksize(&attr, kStackBytes);
  auto owned = std::make_unique<std::function<void()>>(std::move(body));
  SmallThread thread;
  int err = ::pthread_create(&thread.id_, &attr, runBody, owned.get());
  ::pthread_attr_destroy(&attr);
  if (err != 0) return Error{err, std::string("pthread_create: ") + std::strerror(err)};
  owned.release();  // the thread owns its body now
  thread.started_ = true;
  return thread;
}

void SmallThread::join() {
  if (!started_) return;
  ::pthread_join(id_, nullptr);
  started_ = false;
}

SmallThread::~SmallThread() { join(); }

SmallThread::SmallThread(SmallThread&& other) noexcept
    : id_(other.id_), started_(std::exchange(other.started_, false)) {}

SmallThread& SmallThread::operator=(SmallThread&& other) noexcept {
  if (this != &other) {
    join();
    id_ = other.id_;
    started_ = std::exchange(other.started_, false);
  }
  return *this;
}

}  // namespace netlab
