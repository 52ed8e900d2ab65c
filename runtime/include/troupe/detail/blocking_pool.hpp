// Threads that run an actor's blocking or CPU-bound work off the event loop
// (actor::run_blocking), as asyncio.to_thread or tokio's spawn_blocking do.
// The loop goes on serving every other actor; the waiting actor is resumed
// by a handler the finished job posts to the loop.
#pragma once

#include <troupe/actor_ref.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace asio {
class io_context;
}
namespace troupe {
class node;
}

namespace troupe::detail {

/// One piece of work; the awaiting actor keeps it alive.
struct blocking_job {
  virtual ~blocking_job() = default;
  virtual void run() noexcept = 0;
  std::atomic<bool> done{false};
  actor_ref who;
  std::uint32_t token = 0;
};

template <class F, class R>
struct blocking_job_of final : blocking_job {
  explicit blocking_job_of(F f) : fn(std::move(f)) {}
  void run() noexcept override {
    try {
      if constexpr (std::is_void_v<R>)
        fn();
      else
        result.emplace(fn());
    } catch (...) {
      error = std::current_exception();
    }
  }
  F fn;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
  std::exception_ptr error;
};

class blocking_pool {
 public:
  /// `threads` 0: one per core.
  blocking_pool(node& n, unsigned threads);
  /// Waits for the jobs that run (they cannot be interrupted); queued ones
  /// are dropped.
  ~blocking_pool();
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  /// On the node's thread: runs `job` on a pool thread; the node's event
  /// loop does not run out of work until the job's completion was handled.
  void submit(std::shared_ptr<blocking_job> job);

 private:
  void work();
  void finished() noexcept;

  node& node_;
  unsigned size_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<blocking_job>> queue_;
  std::vector<std::thread> threads_;
  unsigned idle_ = 0;
  bool stop_ = false;
  std::size_t outstanding_ = 0;  // jobs whose completion the loop has not handled (loop thread only)
  struct work_guard;
  std::unique_ptr<work_guard> keep_running_;
};

}  // namespace troupe::detail
