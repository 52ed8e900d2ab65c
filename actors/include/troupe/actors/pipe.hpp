// troupe::pipe — Python's multiprocessing.Pipe as actors: a connected pair
// of ends that can be handed to actors in any process of the cluster.
//
//   auto [a, b] = troupe::make_pipe<int>(self);      // duplex
//   co_await self.spawn(p, child, b);                // b travels in a message
//   a.send(self, 42);
//   int x = co_await a.recv(self);                   // throws pipe_closed at end of stream
//
// Each direction is a small buffer actor in the process that made the pipe.
// An end sends into the buffer its peer reads from. The reading side sees
// end-of-stream once the writing side closed its end or its process died
// (the buffer monitors the writer), after every item sent before that.
#pragma once

#include <troupe/troupe.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <stdexcept>
#include <utility>

namespace troupe {

/// Raised by recv at end of stream (Python raises EOFError), and by send on
/// an end that was closed.
class pipe_closed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Raised by send on a read-only end, and by recv and poll on a write-only
/// one (Python raises OSError: "connection is read-only" / "write-only").
/// Not a pipe_closed: a loop that ends at end of stream does not take a
/// misused end for one.
class pipe_direction_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail::pipe_protocol {

template <class T>
struct data {
  static constexpr std::string_view message_prefix = "troupe::pipe_data";
  T value{};
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & value;
  }
};
template <class T>
struct reply {
  static constexpr std::string_view message_prefix = "troupe::pipe_reply";
  bool eof = false;
  T value{};
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & eof & value;
  }
};
struct get {};
struct poll {};
struct attach {
  actor_ref who;
  bool writer = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & who & writer;
  }
};
struct close {};

}  // namespace detail::pipe_protocol
}  // namespace troupe

template <class T>
struct troupe::message_traits<troupe::detail::pipe_protocol::data<T>>
    : troupe::template_message_traits<troupe::detail::pipe_protocol::data<T>, T> {};
template <class T>
struct troupe::message_traits<troupe::detail::pipe_protocol::reply<T>>
    : troupe::template_message_traits<troupe::detail::pipe_protocol::reply<T>, T> {};
TROUPE_MESSAGE_NAMED(troupe::detail::pipe_protocol::get, "troupe::pipe_get");
TROUPE_MESSAGE_NAMED(troupe::detail::pipe_protocol::poll, "troupe::pipe_poll");
TROUPE_MESSAGE_NAMED(troupe::detail::pipe_protocol::attach, "troupe::pipe_attach");
TROUPE_MESSAGE_NAMED(troupe::detail::pipe_protocol::close, "troupe::pipe_close");

namespace troupe {

namespace detail {

/// One direction of a pipe: holds what the writer sent until the reader
/// asks, and answers end-of-stream once the writer is gone and it is empty.
/// Items a pipe buffer holds; beyond that, sent items wait in its mailbox
/// and a writer that awaits its sends (co_await w.send(self, v)) is paced.
inline constexpr std::size_t pipe_capacity = 1024;

template <class T>
task<void> pipe_buffer(actor& self) {
  namespace p = pipe_protocol;
  std::deque<T> items;
  std::deque<message> getters;  // requests waiting for an item
  bool writer_done = false;
  bool writer_dead = false;
  actor_ref writer, reader;
  auto end_of_stream = [&] {
    while (!getters.empty()) {
      self.reply(getters.front(), p::reply<T>{true, T{}});
      getters.pop_front();
    }
  };
  for (;;) {
    // Full: leave data in the mailbox (its bound paces the writer) and
    // take only what lets readers drain it.
    // (close stays in the mailbox behind the data sent before it; a
    // writer's death is only noted, and counts once its data is all taken)
    message m;
    if (items.size() >= pipe_capacity)
      m = co_await self.receive<p::get, p::poll, p::attach, down>();
    else
      m = co_await self.receive();
    if (auto* d = m.get_if<p::data<T>>()) {
      if (writer_done) continue;  // sent after close: dropped, as a closed pipe would
      if (!getters.empty()) {
        self.reply(getters.front(), p::reply<T>{false, std::move(d->value)});
        getters.pop_front();
      } else {
        items.push_back(std::move(d->value));
      }
    } else if (m.is<p::get>()) {
      if (!items.empty()) {
        self.reply(m, p::reply<T>{false, std::move(items.front())});
        items.pop_front();
      } else if (writer_done) {
        self.reply(m, p::reply<T>{true, T{}});
      } else {
        getters.push_back(std::move(m));
      }
    } else if (m.is<p::poll>()) {
      self.reply(m, !items.empty() || writer_done);
    } else if (auto* a = m.get_if<p::attach>()) {
      actor_ref& slot = a->writer ? writer : reader;
      if (!slot) {
        slot = a->who;
        self.monitor(slot);
      }
    } else if (m.is<p::close>()) {
      writer_done = true;
      end_of_stream();
    } else if (auto* d = m.get_if<down>()) {
      if (d->actor == reader) co_return;  // nobody will read what is left
      if (d->actor == writer) writer_dead = true;
    }
    // Nothing can arrive from a dead writer any more: once the mailbox holds
    // none of its data, the stream has ended.
    if (writer_dead && !writer_done && self.mailbox_size() == 0) {
      writer_done = true;
      end_of_stream();
    }
    // Everything was read: a later recv finds no buffer and reports end of stream.
    if (writer_done && items.empty() && getters.empty()) co_return;
  }
}

}  // namespace detail

/// One end of a pipe. A plain value: copy it into a message to hand it to
/// an actor in another process. Use each end from one actor.
template <class T>
class pipe_end {
 public:
  static constexpr std::string_view message_prefix = "troupe::pipe_end";

  pipe_end() = default;
  pipe_end(actor_ref in, actor_ref out) : in_(in), out_(out) {}

  bool readable() const noexcept { return static_cast<bool>(in_); }
  bool writable() const noexcept { return static_cast<bool>(out_); }

  /// Sends `value` to the other end. As a plain call it never suspends;
  /// awaited, `co_await w.send(self, v)`, it waits while the other end is
  /// over its bound (it holds pipe_capacity items, then its mailbox fills),
  /// so a writer much faster than its reader is paced.
  send_awaiter send(actor& self, T value) {
    if (!out_) throw pipe_direction_error("send on a read-only pipe end");
    if (closed_) throw pipe_closed("send on a pipe end that is closed");
    attach(self);
    return self.send(out_, detail::pipe_protocol::data<T>{std::move(value)});
  }

  /// The next item; throws pipe_closed once the other end closed (or its
  /// process died) and every item it sent was received, and
  /// pipe_direction_error on a write-only end.
  task<T> recv(actor& self) {
    auto r = co_await recv(self, duration::max());
    if (!r) throw pipe_closed("the other end of the pipe is closed");
    co_return std::move(*r);
  }
  /// Same, giving up after `timeout` (empty result); throws pipe_closed at end of stream.
  task<std::optional<T>> recv(actor& self, duration timeout);

  /// Whether recv would return at once (an item is there, or end of
  /// stream), waiting up to `timeout` for that; throws pipe_direction_error
  /// on a write-only end.
  task<bool> poll(actor& self, duration timeout = duration::zero());

  /// Closes this end: the other end reads what was sent, then end of stream.
  void close(actor& self) {
    if (closed_) return;
    closed_ = true;
    if (out_) self.send(out_, detail::pipe_protocol::close{});
  }

  template <class A>
  void serialize(A& ar, unsigned) {
    ar & in_ & out_;
  }

 private:
  void attach(actor& self) {
    if (attached_ == self.ref()) return;
    attached_ = self.ref();
    if (out_) self.send(out_, detail::pipe_protocol::attach{self.ref(), true});
    if (in_) self.send(in_, detail::pipe_protocol::attach{self.ref(), false});
  }

  actor_ref in_, out_;
  actor_ref attached_;
  bool closed_ = false;
};

template <class T>
task<std::optional<T>> pipe_end<T>::recv(actor& self, duration timeout) {
  if (!in_) throw pipe_direction_error("recv on a write-only pipe end");
  attach(self);
  try {
    // The buffer answers when an item is there: wait for it here without
    // a request timeout, and give up with a poll first when one is asked.
    // (two statements: g++ 12 may evaluate a co_await in the right operand of &&)
    if (timeout != duration::max()) {
      bool ready = co_await poll(self, timeout);
      if (!ready) co_return std::nullopt;
    }
    auto r = co_await self.request<detail::pipe_protocol::reply<T>>(in_, detail::pipe_protocol::get{},
                                                                    duration::max());
    if (r->eof) throw pipe_closed("the other end of the pipe is closed");
    co_return std::move(r->value);
  } catch (const request_error& e) {
    if (e.code() == request_errc::timeout) throw;
    throw pipe_closed(std::string("the pipe is gone: ") + e.what());
  }
}

template <class T>
task<bool> pipe_end<T>::poll(actor& self, duration timeout) {
  if (!in_) throw pipe_direction_error("poll on a write-only pipe end");
  auto now = self.node().now();
  auto deadline = timeout >= clock::time_point::max() - now ? clock::time_point::max() : now + timeout;
  for (;;) {
    try {
      auto r = co_await self.request<bool>(in_, detail::pipe_protocol::poll{}, std::chrono::seconds(30));
      if (*r) co_return true;
    } catch (const request_error&) {
      co_return true;  // the buffer is gone: recv reports end of stream at once
    }
    if (self.node().now() >= deadline) co_return false;
    co_await self.sleep_for(std::min<duration>(std::chrono::milliseconds(1), deadline - self.node().now()));
  }
}

/// Makes a pipe. Duplex: both ends send and receive. One-way (duplex =
/// false): the first end only receives, the second only sends, as Python's
/// Pipe(duplex=False) returns (reader, writer).
template <class T>
std::pair<pipe_end<T>, pipe_end<T>> make_pipe(actor& self, bool duplex = true) {
  actor_ref to_first = self.spawn(detail::pipe_buffer<T>);
  if (!duplex) return {pipe_end<T>(to_first, {}), pipe_end<T>({}, to_first)};
  actor_ref to_second = self.spawn(detail::pipe_buffer<T>);
  return {pipe_end<T>(to_first, to_second), pipe_end<T>(to_second, to_first)};
}

}  // namespace troupe

template <class T>
struct troupe::message_traits<troupe::pipe_end<T>> : troupe::template_message_traits<troupe::pipe_end<T>, T> {};
