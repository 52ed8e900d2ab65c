// task<T>: the coroutine type of actors and of everything they co_await.
// Lazy (starts when awaited), resumes its awaiter by symmetric transfer (with
// g++ -O0: when it finishes before it ever waits, lets the awaiter go on), and
// allocates its frame from the node's pools. Chosen over asio::awaitable by
// measurement: resuming a task costs about 1 ns, a co_spawn about 0.8-1.8 us
// and a resume through asio::post about 100 ns (docs/architecture.md).
#pragma once

#include <troupe/detail/pool.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

// Symmetric transfer is a tail call with clang at every optimization level
// (sanitizers included) and with g++ when it optimizes; g++ -O0 makes it a
// plain call, so there a task that finishes before it waits lets its awaiter
// go on without a resume instead (a loop of such awaits would otherwise grow
// the stack; deep nesting still does). A macro, not a constant, so that
// translation units built differently use different functions, not one
// function defined two ways.
#if defined(__clang__) || defined(__OPTIMIZE__)
#define TROUPE_DETAIL_TAIL_TRANSFER true
#else
#define TROUPE_DETAIL_TAIL_TRANSFER false
#endif

namespace troupe {

template <class T = void>
class task;

namespace detail {

struct task_promise_base : pooled {
  std::coroutine_handle<> continuation;
  /// Set while the awaiter that started this task is still on the stack:
  /// finishing then just says so, and the awaiter goes on without a resume
  /// (a loop of tasks that finish at once never grows the stack, even where
  /// the compiler does not make symmetric transfer a tail call, as at -O0).
  bool* finished_inline = nullptr;
  std::exception_ptr error;
  /// Called when a task that nobody awaits (an actor's body) finishes.
  void (*on_done)(void* ctx) noexcept = nullptr;
  void* on_done_ctx = nullptr;

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      task_promise_base& p = h.promise();
      if (p.finished_inline) {
        *p.finished_inline = true;
        return std::noop_coroutine();
      }
      if (p.continuation) return p.continuation;
      if (p.on_done) p.on_done(p.on_done_ctx);  // must not destroy the frame
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct task_promise final : task_promise_base {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct task_promise<void> final : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() const {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return h_.done(); }
  handle_type handle() const noexcept { return h_; }
  handle_type release() noexcept { return std::exchange(h_, {}); }

  template <bool Tail = TROUPE_DETAIL_TAIL_TRANSFER>
  auto operator co_await() && noexcept {
    if constexpr (Tail) {
      struct awaiter {
        handle_type h;
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
          h.promise().continuation = caller;
          return h;  // starts it; its end resumes the caller the same way
        }
        T await_resume() { return h.promise().take(); }
      };
      return awaiter{h_};
    } else {
      struct awaiter {
        handle_type h;
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> caller) noexcept {
          auto& p = h.promise();
          p.continuation = caller;
          bool finished = false;
          p.finished_inline = &finished;
          h.resume();
          if (finished) return false;  // done already: the caller goes on here
          p.finished_inline = nullptr;  // it waits: whoever resumes it resumes the caller
          return true;
        }
        T await_resume() { return h.promise().take(); }
      };
      return awaiter{h_};
    }
  }

 private:
  handle_type h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace troupe
