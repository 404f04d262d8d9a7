// A FIFO of requests in flight on one connection: a power-of-two ring whose first slots live
// inside its owner, so at the usual pipeline depth (1 or 2) the request is on a cache line
// the connection touches anyway; deeper pipelines grow it on the heap once. A std::deque
// allocates a 512-byte block per connection and frees and allocates one every 21 requests:
// at 1,000 connections, half a megabyte of blocks churning through the allocator and cache.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace netlab {

template <typename T, size_t kInline = 2>
class Ring {
  static_assert((kInline & (kInline - 1)) == 0, "the inline slots are a power of two");

 public:
  Ring() { slots_ = inline_.data(); }  // in the body: inline_ comes after slots_
  Ring(const Ring&) = delete;          // slots_ may point into the object itself
  Ring& operator=(const Ring&) = delete;

  bool empty() const { return head_ == tail_; }
  size_t size() const { return tail_ - head_; }

  T& front() { return slots_[head_ & mask_]; }
  const T& front() const { return slots_[head_ & mask_]; }
  T& back() { return slots_[(tail_ - 1) & mask_]; }
  const T& back() const { return slots_[(tail_ - 1) & mask_]; }
  const T& operator[](size_t i) const { return slots_[(head_ + i) & mask_]; }

  void push_back(const T& value) {
    if (size() > mask_) grow();
    slots_[tail_++ & mask_] = value;
  }
  void pop_front() { ++head_; }
  void clear() { head_ = tail_ = 0; }

 private:
  void grow() {
    std::vector<T> bigger((mask_ + 1) * 2);
    for (size_t i = 0; i < size(); ++i) bigger[i] = (*this)[i];
    tail_ = size();
    head_ = 0;
    heap_.swap(bigger);
    slots_ = heap_.data();
    mask_ = heap_.size() - 1;
  }

  // The counts and where the slots are first, then the inline slots: every request and
  // response reads the first line, and at a pipeline depth of 1 or 2 finds its slot there too.
  size_t head_ = 0;  // free-running counts; a slot is its count masked
  size_t tail_ = 0;
  size_t mask_ = kInline - 1;
  T* slots_ = nullptr;
  std::array<T, kInline> inline_{};
  std::vector<T> heap_;
};

}  // namespace netlab
