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
  /// few microseconds at most) and returns the bytes of a heartbeat the
  /// thread left half-written, to go out first.
  std::span<const std::byte> begin_write() noexcept;
  /// The write completed (or the loop writes nothing after all).
  void end_write() noexcept;
  /// The link closes: the thread never touches the socket again. Call it
  /// while holding the gate (during a write) or not; it waits either way.
  void close(bool holding) noexcept;

  /// Called by the thread: sends a heartbeat if nothing was written for
  /// `interval`. False once the link is closed.
  bool beat(std::chrono::steady_clock::duration interval) noexcept;

 private:
  enum : int { free_, loop_writes, thread_writes, closed };
  bool acquire(int who) noexcept;
  void stamp() noexcept;

  int fd_;
  std::array<std::byte, frame_header::size> frame_;
  std::atomic<int> state_{free_};
  std::atomic<std::int64_t> last_write_ns_{0};
  // A heartbeat the socket took only part of; guarded by the gate.
  std::array<std::byte, frame_header::size> carry_{};
  std::size_t carry_len_ = 0;
  std::size_t carry_at_ = 0;
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
