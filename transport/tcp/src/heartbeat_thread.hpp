// Heartbeats that do not depend on the event loop. An actor may compute
// for minutes without awaiting; the node's loop then runs nothing, but its
// peers must still hear from it. A thread of the TCP transport writes each
// link's heartbeat frame straight to the socket whenever the link has
// written nothing for an interval. A frozen (SIGSTOP) or dead process stops
// this thread too, so peers still notice those.
//
// The loop and the thread share a link's socket through a gate: whoever
// holds it writes; the loop holds it for the whole of an asynchronous
// write, the thread for one non-blocking send() of at most one frame.
#pragma once

#include <troupe/transport/frame.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace troupe::detail {

/// What the loop and the heartbeat thread share of one link.
class heartbeat_gate {
 public:
  heartbeat_gate(int fd, std::span<const std::byte, frame_header::size> frame) noexcept;

  /// The loop is about to write: waits for the thread to finish a send (a
  /// few microseconds at most); false once the link is closed.
  bool lock() noexcept;
  /// The bytes of a heartbeat the thread left half-written, to go out
  /// first (call while locked).
  std::span<const std::byte> take_carry() noexcept;
  /// What the loop wrote and the socket did not take at once (locked):
  /// either side pushes it on from now on, so a loop that computes for a
  /// long time does not leave a frame half-sent and the link silent.
  void set_tail(const std::byte* data, std::size_t size) noexcept;
  /// Pushes the tail on with non-blocking sends (locked); true once all of
  /// it is out. A send error other than "would block" sets `error`.
  bool push_tail(int& error) noexcept;
  /// The loop is done with the socket for now.
  void unlock() noexcept;
  /// The link closes: the thread never touches the socket again. Call it
  /// with the gate locked by the loop or not; it waits either way.
  void close(bool locked) noexcept;

  /// Called by the thread: pushes a tail on, or sends a heartbeat, if
  /// nothing was written for `interval`. False once the link is closed.
  bool beat(std::chrono::steady_clock::duration interval) noexcept;

 private:
  enum : int { free_, loop_writes, thread_writes, closed };
  bool acquire(int who) noexcept;
  void stamp() noexcept;

  int fd_;
  std::array<std::byte, frame_header::size> frame_;
  std::atomic<int> state_{free_};
  std::atomic<std::int64_t> last_write_ns_{0};
  // Guarded by the gate: a heartbeat the socket took only part of, and the
  // loop's unsent tail.
  std::array<std::byte, frame_header::size> carry_{};
  std::size_t carry_len_ = 0;
  std::size_t carry_at_ = 0;
  const std::byte* tail_ = nullptr;
  std::size_t tail_len_ = 0;
};

/// One thread per TCP transport; links register their gates while up.
class heartbeat_thread {
 public:
  explicit heartbeat_thread(std::chrono::steady_clock::duration interval);
  ~heartbeat_thread();
  heartbeat_thread(const heartbeat_thread&) = delete;
  heartbeat_thread& operator=(const heartbeat_thread&) = delete;

  void add(std::shared_ptr<heartbeat_gate> g);

 private:
  void run();

  std::chrono::steady_clock::duration interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::shared_ptr<heartbeat_gate>> gates_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace troupe::detail
