// Producer and consumer over a queue, as in the lecture's examples: a
// consumer applies a function to each item until the queue is closed and
// drained; a producer feeds a range or a generator into it.
#pragma once

#include <troupe/actors/queue.hpp>

#include <optional>
#include <type_traits>

namespace troupe {

namespace detail {

template <class F, class T>
task<void> call_consumer(actor& self, F& fn, T& item) {
  if constexpr (std::is_invocable_v<F&, actor&, T&>) {
    using R = std::invoke_result_t<F&, actor&, T&>;
    if constexpr (std::is_same_v<R, task<void>>)
      co_await fn(self, item);
    else
      fn(self, item);
  } else {
    using R = std::invoke_result_t<F&, T&>;
    if constexpr (std::is_same_v<R, task<void>>)
      co_await fn(item);
    else
      fn(item);
  }
}

}  // namespace detail

/// Applies `fn` (fn(item), fn(self, item), either may return task<void>) to
/// every item of `q` until the queue is closed and drained; returns how
/// many it took. On a joinable_queue each item is marked done after `fn`.
template <class T, class F>
task<std::size_t> consume(actor& self, queue<T> q, F fn) {
  std::size_t n = 0;
  for (;;) {
    T item;
    try {
      item = co_await q.get(self);
    } catch (const queue_closed&) {
      co_return n;
    }
    co_await detail::call_consumer(self, fn, item);
    ++n;
  }
}

template <class T, class F>
task<std::size_t> consume(actor& self, joinable_queue<T> q, F fn) {
  std::size_t n = 0;
  for (;;) {
    T item;
    try {
      item = co_await q.get(self);
    } catch (const queue_closed&) {
      co_return n;
    }
    try {
      co_await detail::call_consumer(self, fn, item);
    } catch (...) {
      q.task_done(self);  // the item was handled, if badly: join must not hang on it
      throw;
    }
    q.task_done(self);
    ++n;
  }
}

/// Puts every element of `items` into `q` (waiting while it is full);
/// returns how many.
template <class T, class Range>
task<std::size_t> produce(actor& self, queue<T> q, const Range& items) {
  std::size_t n = 0;
  for (const auto& x : items) {
    co_await q.put(self, T(x));
    ++n;
  }
  co_return n;
}

/// Puts what `next()` yields until it returns an empty optional; returns how many.
template <class T, class Gen>
  requires std::is_invocable_r_v<std::optional<T>, Gen&>
task<std::size_t> produce_from(actor& self, queue<T> q, Gen next) {
  std::size_t n = 0;
  while (std::optional<T> x = next()) {
    co_await q.put(self, std::move(*x));
    ++n;
  }
  co_return n;
}

}  // namespace troupe
