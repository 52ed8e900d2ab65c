// troupe::queue and troupe::joinable_queue — Python's multiprocessing.Queue
// and JoinableQueue as an actor: a bounded FIFO that producers and
// consumers in any process of the cluster share by its handle.
//
//   auto q = troupe::make_queue<job>(self, 100);   // capacity 100
//   co_await q.put(self, job{...});                 // waits while full
//   job j = co_await q.get(self);                   // waits while empty
//
// Every item is delivered to exactly one get. Timeouts are decided by the
// queue actor itself, so a put that reports `full` never also enqueued its
// item, and a get that reports empty took nothing.
#pragma once

#include <troupe/troupe.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <unordered_set>

namespace troupe {

/// put on a closed queue, or get on a closed and drained one.
class queue_closed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// put with a timeout on a queue that stayed full (Python's queue.Full).
class queue_full : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail::queue_protocol {

template <class T>
struct put {
  static constexpr std::string_view message_prefix = "troupe::queue_put";
  T value{};
  std::int64_t timeout_ns = -1;  // -1: wait as long as it takes
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & value & timeout_ns;
  }
};
template <class T>
struct item {
  static constexpr std::string_view message_prefix = "troupe::queue_item";
  std::uint8_t status = 0;  // 0 item, 1 timed out, 2 closed
  T value{};
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & status & value;
  }
};
struct get {
  std::int64_t timeout_ns = -1;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & timeout_ns;
  }
};
struct put_reply {
  std::uint8_t status = 0;  // 0 accepted, 1 full (timed out), 2 closed
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & status;
  }
};
struct size {};
struct close {};
struct task_done {};
struct join {};
struct joined {};
struct expire {};  // the queue actor's own timer tick

}  // namespace detail::queue_protocol
}  // namespace troupe

template <class T>
struct troupe::message_traits<troupe::detail::queue_protocol::put<T>>
    : troupe::template_message_traits<troupe::detail::queue_protocol::put<T>, T> {};
template <class T>
struct troupe::message_traits<troupe::detail::queue_protocol::item<T>>
    : troupe::template_message_traits<troupe::detail::queue_protocol::item<T>, T> {};
TROUPE_MESSAGE_NAMED(troupe::detail::queue_protocol::get, "troupe::queue_get");
TROUPE_MESSAGE_NAMED(troupe::detail::queue_protocol::put_reply, "troupe::queue_put_reply");
TROUPE_MESSAGE_NAMED(troupe::detail::queue_protocol::size, "troupe::queue_size");
TROUPE_MESSAGE_NAMED(troupe::detail::queue_protocol::close, "troupe::queue_close");
TROUPE_MESSAGE_NAMED(troupe::detail::queue_protocol::task_done, "troupe::queue_task_done");
TROUPE_MESSAGE_NAMED(troupe::detail::queue_protocol::join, "troupe::queue_join");
TROUPE_MESSAGE_NAMED(troupe::detail::queue_protocol::joined, "troupe::queue_joined");

namespace troupe {
namespace detail {

template <class T>
task<void> queue_actor(actor& self, std::size_t capacity, bool joinable) {
  namespace q = queue_protocol;
  struct waiting {
    message request;
    clock::time_point deadline;
  };
  std::deque<T> items;
  std::deque<waiting> putters, getters;
  std::deque<message> joiners;
  std::uint64_t unfinished = 0;
  bool closed = false;
  // Waiters are watched: an item is never handed to a get whose actor died,
  // and a dead putter's item is not taken.
  std::unordered_set<actor_ref> watched;
  auto watch = [&](actor_ref who) {
    if (who && watched.insert(who).second) self.monitor(who);
  };
  // A reply that cannot be sent (the requester's node is gone, or the item
  // is over the frame limit) must not end the queue.
  auto answer = [&](const message& request, auto&& value) {
    try {
      self.reply(request, std::forward<decltype(value)>(value));
    } catch (const std::exception& e) {
      TROUPE_LOG(warn) << "queue " << self.ref() << ": cannot answer " << request.sender() << ": " << e.what();
    }
  };
  auto deadline_of = [&](std::int64_t ns) {
    return ns < 0 ? clock::time_point::max() : deadline_after(self.node().now(), std::chrono::nanoseconds(ns));
  };
  for (;;) {
    // Wake for the earliest deadline of a waiting put or get.
    clock::time_point next = clock::time_point::max();
    for (auto& w : putters) next = std::min(next, w.deadline);
    for (auto& w : getters) next = std::min(next, w.deadline);
    std::optional<message> got;
    if (next == clock::time_point::max())
      got = co_await self.receive();
    else
      got = co_await self.receive(std::max(duration::zero(), next - self.node().now()));

    if (got) {
      message& m = *got;
      if (auto* p = m.get_if<q::put<T>>()) {
        if (closed)
          answer(m, q::put_reply{2});
        else if (items.size() < capacity && putters.empty()) {
          items.push_back(std::move(p->value));
          ++unfinished;
          answer(m, q::put_reply{0});
        } else {
          clock::time_point d = deadline_of(p->timeout_ns);
          watch(m.sender());
          putters.push_back({std::move(m), d});
        }
      } else if (auto* g = m.get_if<q::get>()) {
        if (!items.empty() && getters.empty()) {
          answer(m, q::item<T>{0, std::move(items.front())});
          items.pop_front();
        } else if (closed && items.empty()) {
          answer(m, q::item<T>{2, T{}});
        } else {
          clock::time_point d = deadline_of(g->timeout_ns);
          watch(m.sender());
          getters.push_back({std::move(m), d});
        }
      } else if (m.is<q::size>()) {
        answer(m, static_cast<std::uint64_t>(items.size()));
      } else if (m.is<q::close>()) {
        closed = true;
        for (auto& w : putters) answer(w.request, q::put_reply{2});
        putters.clear();
      } else if (m.is<q::task_done>()) {
        if (unfinished > 0) --unfinished;
        if (unfinished == 0) {
          for (auto& j : joiners) answer(j, q::joined{});
          joiners.clear();
        }
      } else if (auto* d = m.get_if<down>()) {
        watched.erase(d->actor);
        std::erase_if(getters, [&](const waiting& w) { return w.request.sender() == d->actor; });
        std::erase_if(putters, [&](const waiting& w) { return w.request.sender() == d->actor; });
      } else if (m.is<q::join>()) {
        if (unfinished == 0)
          answer(m, q::joined{});
        else
          joiners.push_back(std::move(m));
      }
    }
    // Move items from waiting puts to waiting gets, in order.
    for (;;) {
      while (items.size() < capacity && !putters.empty()) {
        waiting w = std::move(putters.front());
        putters.pop_front();
        items.push_back(std::move(w.request.template get<q::put<T>>().value));
        ++unfinished;
        answer(w.request, q::put_reply{0});
      }
      if (items.empty() || getters.empty()) break;
      waiting w = std::move(getters.front());
      getters.pop_front();
      answer(w.request, q::item<T>{0, std::move(items.front())});
      items.pop_front();
    }
    if (closed && items.empty()) {
      for (auto& w : getters) answer(w.request, q::item<T>{2, T{}});
      getters.clear();
    }
    // Expire waits whose deadline passed.
    auto now = self.node().now();
    for (auto it = putters.begin(); it != putters.end();)
      if (it->deadline <= now) {
        answer(it->request, q::put_reply{1});
        it = putters.erase(it);
      } else {
        ++it;
      }
    for (auto it = getters.begin(); it != getters.end();)
      if (it->deadline <= now) {
        answer(it->request, q::item<T>{1, T{}});
        it = getters.erase(it);
      } else {
        ++it;
      }
    (void)joinable;
  }
}

// On the wire: -1 waits as long as it takes; a negative timeout gives up at once.
inline std::int64_t timeout_ns(duration d) {
  if (d == duration::max()) return -1;
  return std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}
// How long a caller waits for the queue's own answer beyond its timeout:
// only a queue whose process died stays silent.
inline constexpr duration answer_grace = std::chrono::seconds(30);
inline duration answer_wait(duration timeout) {
  if (timeout >= duration::max() - answer_grace) return duration::max();
  return std::max(timeout, duration::zero()) + answer_grace;
}

}  // namespace detail

/// A bounded FIFO shared by actors in any process. A plain value: copy it
/// into messages to hand it around.
template <class T>
class queue {
 public:
  static constexpr std::string_view message_prefix = "troupe::queue";

  queue() = default;
  explicit queue(actor_ref a) : actor_(a) {}
  actor_ref ref() const noexcept { return actor_; }

  /// Appends `value`, waiting while the queue is full; throws queue_closed
  /// after close().
  task<void> put(actor& self, T value) {
    co_await put_for(self, std::move(value), duration::max());
  }
  /// Same, giving up after `timeout`: throws queue_full (the item was not enqueued).
  task<void> put(actor& self, T value, duration timeout) {
    co_await put_for(self, std::move(value), timeout);
  }
  /// The oldest item, waiting while the queue is empty; throws queue_closed
  /// once it is closed and drained.
  task<T> get(actor& self) {
    auto r = co_await get_for(self, duration::max());
    co_return std::move(*r);
  }
  /// Same, giving up after `timeout`: empty when nothing came.
  task<std::optional<T>> get(actor& self, duration timeout) { return get_for(self, timeout); }

  /// Items waiting now.
  task<std::size_t> qsize(actor& self) {
    auto r = co_await self.request<std::uint64_t>(actor_, detail::queue_protocol::size{}, detail::answer_grace);
    co_return static_cast<std::size_t>(*r);
  }
  /// No more puts; gets drain what is left, then see queue_closed.
  void close(actor& self) { self.send(actor_, detail::queue_protocol::close{}); }

  template <class A>
  void serialize(A& ar, unsigned) {
    ar & actor_;
  }

 protected:
  task<void> put_for(actor& self, T value, duration timeout) {
    detail::queue_protocol::put<T> p{std::move(value), detail::timeout_ns(timeout)};
    // (computed outside the co_await: g++ 12 evaluates both arms of a ?: there)
    duration wait = detail::answer_wait(timeout);
    auto r = co_await self.request<detail::queue_protocol::put_reply>(actor_, std::move(p), wait);
    if (r->status == 1) throw queue_full("queue is full");
    if (r->status == 2) throw queue_closed("queue is closed");
  }
  task<std::optional<T>> get_for(actor& self, duration timeout) {
    detail::queue_protocol::get g{detail::timeout_ns(timeout)};
    duration wait = detail::answer_wait(timeout);
    auto r = co_await self.request<detail::queue_protocol::item<T>>(actor_, g, wait);
    if (r->status == 2) throw queue_closed("queue is closed and empty");
    if (r->status == 1) co_return std::nullopt;
    co_return std::move(r->value);
  }

  actor_ref actor_;
};

/// A queue that also counts unfinished items: every put adds one, every
/// task_done removes one, and join waits until none is left.
template <class T>
class joinable_queue : public queue<T> {
 public:
  static constexpr std::string_view message_prefix = "troupe::joinable_queue";

  joinable_queue() = default;
  explicit joinable_queue(actor_ref a) : queue<T>(a) {}

  /// Marks one item taken with get as processed.
  void task_done(actor& self) { self.send(this->actor_, detail::queue_protocol::task_done{}); }
  /// Waits until every item put so far was marked done.
  task<void> join(actor& self) {
    co_await self.request<detail::queue_protocol::joined>(this->actor_, detail::queue_protocol::join{},
                                                          duration::max());
  }
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & this->actor_;
  }
};

/// Makes a queue holding at most `capacity` items (0: unbounded), served by
/// an actor of this process.
template <class T>
queue<T> make_queue(actor& self, std::size_t capacity = 0) {
  return queue<T>(self.spawn(detail::queue_actor<T>, capacity ? capacity : std::size_t(-1), false));
}

template <class T>
joinable_queue<T> make_joinable_queue(actor& self, std::size_t capacity = 0) {
  return joinable_queue<T>(self.spawn(detail::queue_actor<T>, capacity ? capacity : std::size_t(-1), true));
}

}  // namespace troupe

template <class T>
struct troupe::message_traits<troupe::queue<T>> : troupe::template_message_traits<troupe::queue<T>, T> {};
template <class T>
struct troupe::message_traits<troupe::joinable_queue<T>>
    : troupe::template_message_traits<troupe::joinable_queue<T>, T> {};
