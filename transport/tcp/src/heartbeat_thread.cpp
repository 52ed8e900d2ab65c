#include "heartbeat_thread.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace troupe::detail {
namespace {

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

heartbeat_gate::heartbeat_gate(int fd, std::span<const std::byte, frame_header::size> frame) noexcept : fd_(fd) {
  std::memcpy(frame_.data(), frame.data(), frame.size());
  stamp();
}

void heartbeat_gate::stamp() noexcept { last_write_ns_.store(now_ns(), std::memory_order_relaxed); }

bool heartbeat_gate::acquire(int who) noexcept {
  for (;;) {
    int expected = free_;
    if (state_.compare_exchange_weak(expected, who, std::memory_order_acquire)) return true;
    if (expected == closed) return false;
    if (who == thread_writes) return false;  // the loop writes: a heartbeat is not needed now
    std::this_thread::yield();               // the thread is in one send(): wait it out
  }
}

bool heartbeat_gate::lock() noexcept { return acquire(loop_writes); }

std::span<const std::byte> heartbeat_gate::take_carry() noexcept {
  std::span<const std::byte> rest(carry_.data() + carry_at_, carry_len_ - carry_at_);
  carry_len_ = carry_at_ = 0;  // the loop writes those bytes first, in its own buffer
  return rest;
}

void heartbeat_gate::set_tail(const std::byte* data, std::size_t size) noexcept {
  tail_ = data;
  tail_len_ = size;
}

bool heartbeat_gate::push_tail(int& error) noexcept {
  while (tail_len_ > 0) {
    ssize_t n = ::send(fd_, tail_, tail_len_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      tail_ += n;
      tail_len_ -= static_cast<std::size_t>(n);
      stamp();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
    return false;
  }
  tail_ = nullptr;
  return true;
}

void heartbeat_gate::unlock() noexcept {
  stamp();
  int expected = loop_writes;
  state_.compare_exchange_strong(expected, free_, std::memory_order_release);
}

void heartbeat_gate::close(bool locked) noexcept {
  if (!locked) acquire(loop_writes);
  state_.store(closed, std::memory_order_release);
}

bool heartbeat_gate::beat(std::chrono::steady_clock::duration interval) noexcept {
  if (state_.load(std::memory_order_relaxed) == closed) return false;
  auto idle = std::chrono::nanoseconds(now_ns() - last_write_ns_.load(std::memory_order_relaxed));
  if (idle < interval) return true;
  if (!acquire(thread_writes)) return state_.load(std::memory_order_relaxed) != closed;
  if (tail_len_ > 0) {
    // The loop's own frames are half out and it has not pushed them on for
    // an interval (it is busy): push them; they say the node lives.
    int error = 0;
    push_tail(error);  // (an error is the loop's to report, at its next write)
  } else {
    if (carry_len_ == 0) {  // a new heartbeat, unless the last one is still half out
      carry_ = frame_;
      carry_len_ = frame_.size();
      carry_at_ = 0;
    }
    ssize_t n = ::send(fd_, carry_.data() + carry_at_, carry_len_ - carry_at_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) carry_at_ += static_cast<std::size_t>(n);
    if (carry_at_ == carry_len_) carry_len_ = carry_at_ = 0;
  }
  // Written or not (a full socket buffer means the peer has data to read
  // anyway), try again after another interval.
  stamp();
  state_.store(free_, std::memory_order_release);
  return true;
}

heartbeat_thread::heartbeat_thread(std::chrono::steady_clock::duration interval)
    : interval_(interval), thread_([this] { run(); }) {}

heartbeat_thread::~heartbeat_thread() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void heartbeat_thread::add(std::shared_ptr<heartbeat_gate> g) {
  std::lock_guard lock(mutex_);
  gates_.push_back(std::move(g));
}

void heartbeat_thread::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, interval_ / 4);
    if (stop_) break;
    std::erase_if(gates_, [this](const std::shared_ptr<heartbeat_gate>& g) { return !g->beat(interval_); });
  }
}

}  // namespace troupe::detail
