// troupe::pool — Python's multiprocessing.Pool as actors: worker processes
// that run registered functions (TROUPE_TASK), fed by a coordinator actor.
//
//   auto p = co_await troupe::pool::start(self, {.processes = 4});
//   int y = co_await p.apply(self, square, 7);
//   auto f = p.apply_async(self, square, 8);        // a future
//   std::vector<int> ys = co_await p.map(self, square, xs);
//   auto s = p.imap_unordered(self, square, xs);    // results as they come
//   while (auto y = co_await s.next(self)) ...
//   p.close(self); co_await p.join(self);
//
// An exception in a task comes back to the caller as pool_task_error with
// its type name and message, or as itself when its type is registered with
// TROUPE_EXCEPTION (exception_registry.hpp). A worker process that dies (SIGKILL in the
// middle of a task) is replaced and its unfinished tasks run again
// elsewhere, up to `retries` times, then fail with a clear error: nothing
// hangs.
#pragma once

#include <troupe/actors/exception_registry.hpp>
#include <troupe/actors/task_registry.hpp>
#include <troupe/detail/byte_buffer_serialization.hpp>
#include <troupe/troupe.hpp>

#include <boost/serialization/split_member.hpp>
#include <boost/serialization/vector.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace troupe {

/// A task raised an exception, or could not run. For an exception, what()
/// is "type: message" (as Python prints "ValueError: message"), with the
/// demangled type name ("std::runtime_error"); type_name() is empty when
/// the pool itself failed the task (a worker died, the pool was closed or
/// terminated, ...).
class pool_task_error : public std::runtime_error {
 public:
  explicit pool_task_error(const std::string& what) : std::runtime_error(what), message_(what) {}
  explicit pool_task_error(const char* what) : pool_task_error(std::string(what)) {}
  pool_task_error(std::string type, std::string message)
      : std::runtime_error(type.empty() ? message : type + ": " + message),
        type_(std::move(type)),
        message_(std::move(message)) {}
  /// The demangled type of the exception the task raised; empty when the
  /// pool failed the task.
  const std::string& type_name() const noexcept { return type_; }
  /// The exception's own message (what() without the type name).
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_, message_;
};

/// pool_future::get with a timeout found no result in time (Python's
/// multiprocessing.TimeoutError). The task goes on; a later get returns it.
class pool_timeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct pool_options {
  /// Worker processes on this machine. Not given: one per core, or none
  /// when `nodes` is given. Zero workers in all (processes + nodes) is
  /// refused with std::invalid_argument, as Python's Pool(0) raises
  /// ValueError.
  std::optional<std::size_t> processes;
  /// A worker process ends after this many tasks and is replaced (0: never).
  std::size_t maxtasksperchild = 0;
  /// How often a task whose worker died runs again before it fails.
  int retries = 2;
  /// Tasks sent to a worker in one message.
  std::size_t batch = 256;
  /// Nodes (processes of this cluster, here or remote) that also host one
  /// worker actor each.
  std::vector<node_ref> nodes;
};

namespace detail::pool_protocol {

enum kind : std::uint8_t { apply = 0, map = 1 };

struct job {
  std::uint64_t id = 0;
  std::uint64_t fn = 0;
  std::uint8_t kind = apply;
  byte_buffer input;  // the arguments, serialized once, by the caller
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & id & fn & kind & input;
  }
};
/// A batch of jobs, packed by hand (one Boost object per batch, not per
/// job): per job u64 id, u64 function, u8 kind, u32 size, input bytes.
struct jobs {
  byte_buffer wire;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & wire;
  }
};
struct outcome {
  std::uint64_t id = 0;
  bool ok = true;
  std::vector<char> output;  // the result, or the error text
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & id & ok & output;
  }
};
/// Their outcomes, packed the same way: u64 id, u8 ok, u32 size, bytes.
struct outcomes {
  byte_buffer wire;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & wire;
  }
};
struct hello {};
/// A worker process of this pool ended (sent by the actor that joins it).
struct process_ended {
  node_id node = 0;
};
struct submit {
  job work;
  actor_ref reply_to;
};
struct result {
  std::uint64_t id = 0;
  bool ok = true;
  std::vector<char> output;
};
struct close {};
struct join {};
struct joined {};
struct terminate {};

}  // namespace detail::pool_protocol
}  // namespace troupe

TROUPE_MESSAGE_NAMED(troupe::detail::pool_protocol::jobs, "troupe::pool_jobs");
TROUPE_MESSAGE_NAMED(troupe::detail::pool_protocol::outcomes, "troupe::pool_outcomes");
TROUPE_MESSAGE_NAMED(troupe::detail::pool_protocol::hello, "troupe::pool_hello");
TROUPE_MESSAGE_NAMED(troupe::detail::pool_protocol::process_ended, "troupe::pool_process_ended");
TROUPE_MESSAGE_NAMED(troupe::detail::pool_protocol::close, "troupe::pool_close");
TROUPE_MESSAGE_NAMED(troupe::detail::pool_protocol::join, "troupe::pool_join");
TROUPE_MESSAGE_NAMED(troupe::detail::pool_protocol::joined, "troupe::pool_joined");
TROUPE_MESSAGE_NAMED(troupe::detail::pool_protocol::terminate, "troupe::pool_terminate");

namespace troupe {

namespace detail {

// Local messages between a caller and the coordinator: never serialized
// (both live in the caller's process), so no serialize functions needed
// beyond what TROUPE_MESSAGE asks of non-trivial types.
struct pool_submit_msg {
  pool_protocol::submit s;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & s.work & s.reply_to;
  }
};
struct pool_result_msg {
  pool_protocol::result r;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & r.id & r.ok & r.output;
  }
};

task<void> pool_coordinator(actor& self, const pool_options& opts, const std::vector<node_ref>& nodes);

/// A task's failure travels as its output: u32 size of the exception's type
/// name (0 for a failure of the pool itself), the name, then the message.
std::vector<char> encode_failure(std::string_view type, std::string_view message);
/// Throws the pool_task_error that `output` (from encode_failure) describes.
[[noreturn]] void throw_failure(const std::vector<char>& output);
task<void> pool_worker(actor& self, actor_ref coordinator, std::uint64_t maxtasks);

template <class R>
R decode_result(const std::vector<char>& bytes) {
  if constexpr (std::is_void_v<R>) {
    return;
  } else {
    R r{};
    load_from(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), r);
    return r;
  }
}

template <class... A>
byte_buffer encode(const A&... a) {
  byte_buffer b;
  save_args(b, a...);
  return b;
}

}  // namespace detail
}  // namespace troupe

TROUPE_MESSAGE_NAMED(troupe::detail::pool_submit_msg, "troupe::pool_submit");
TROUPE_MESSAGE_NAMED(troupe::detail::pool_result_msg, "troupe::pool_result");

namespace troupe {

class pool;
class pool_starter;

template <class R>
class pool_future {
 public:
  pool_future(pool& p, std::uint64_t id);
  /// Waits for the result; throws pool_task_error if the task failed.
  task<R> get(actor& self);
  /// Same, giving up after `timeout`: throws pool_timeout, and the task
  /// goes on (a later get returns its result), as Python's get(timeout).
  task<R> get(actor& self, duration timeout);
  /// Waits up to `timeout` for the result without taking it: true once it
  /// is there (Python's AsyncResult.wait(timeout) followed by ready()).
  task<bool> wait(actor& self, duration timeout);
  std::uint64_t id() const noexcept { return id_; }

 private:
  std::uint64_t id_;
  actor_ref coordinator_;
};

/// Results of imap (in order) or imap_unordered (as they come).
template <class R>
class pool_stream {
  static_assert(!std::is_void_v<R>, "map and imap need a function that returns a value; use apply_async for void ones");

 public:
  pool_stream(pool& p, std::vector<std::uint64_t> ids, std::vector<std::size_t> sizes, bool ordered,
              std::exception_ptr input_error = nullptr);
  /// The next result, or empty when all came. Throws pool_task_error for
  /// a chunk whose task failed (the stream goes on with the next one), and,
  /// after the results of every item before it, the exception the input
  /// range raised (once; the stream then ends).
  task<std::optional<R>> next(actor& self);
  /// Appends the next chunk's results to `out` (map takes whole chunks);
  /// false when all came.
  task<bool> append_chunk(actor& self, std::vector<R>& out);

 private:
  actor_ref coordinator_;
  std::vector<std::uint64_t> ids_;      // one per chunk
  std::vector<std::size_t> sizes_;      // items per chunk
  bool ordered_;
  std::size_t next_chunk_ = 0;          // ordered: the chunk being read
  std::deque<R> ready_;
  std::unordered_map<std::uint64_t, std::size_t> pending_;  // unordered: chunks not yet in
  bool started_ = false;
  std::exception_ptr input_error_;  // what iterating the items raised, after the last chunk
};

class pool {
 public:
  /// Starts the coordinator, which starts the worker processes; use the
  /// pool from the actor that started it. (Awaitable for symmetry with the
  /// rest; it completes at once.)
  static pool_starter start(actor& self, const pool_options& opts = {});

  pool(const pool&) = delete;
  pool(pool&&) = default;

  /// Runs fn(args...) in a worker; the future gives the result.
  template <class R, class... P, class... A>
  pool_future<R> apply_async(actor& self, R (*fn)(P...), A&&... args) {
    return pool_future<R>(*this, submit(self, fn_id(detail::erase_function(fn)), detail::pool_protocol::apply,
                                        detail::encode(static_cast<std::decay_t<P>>(std::forward<A>(args))...)));
  }
  /// Runs fn(args...) in a worker and waits for the result.
  template <class R, class... P, class... A>
  task<R> apply(actor& self, R (*fn)(P...), A... args) {
    co_return co_await apply_async(self, fn, std::move(args)...).get(self);
  }

  /// fn applied to every item, in chunks of `chunksize` (0: about four
  /// chunks per worker, as Python chooses); results in order. An exception
  /// raised while iterating `items` comes out of map as it is, before any
  /// task was submitted (Python's map takes the whole iterable first).
  template <class R, class A, class Range>
  task<std::vector<R>> map(actor& self, R (*fn)(A), const Range& items, std::size_t chunksize = 0) {
    auto s = stream(self, fn, items, chunksize, true, true);
    std::vector<R> out;
    while (co_await s.append_chunk(self, out)) {
    }
    co_return out;
  }
  /// fn(args...) for every tuple of arguments; results in order. As with
  /// map, an exception raised while iterating `tuples` comes out as it is,
  /// and no task was submitted.
  template <class R, class... P, class Range>
  task<std::vector<R>> starmap(actor& self, R (*fn)(P...), const Range& tuples) {
    std::uint64_t id = fn_id(detail::erase_function(fn));
    std::vector<detail::byte_buffer> inputs;
    for (const auto& t : tuples)
      inputs.push_back(
          std::apply([](const auto&... a) { return detail::encode(static_cast<std::decay_t<P>>(a)...); }, t));
    std::vector<pool_future<R>> futures;
    futures.reserve(inputs.size());
    for (auto& b : inputs) futures.emplace_back(*this, submit(self, id, detail::pool_protocol::apply, std::move(b)));
    std::vector<R> out;
    out.reserve(futures.size());
    for (auto& f : futures) out.push_back(co_await f.get(self));
    co_return out;
  }
  /// Results of fn over items in order, as an asynchronous stream. An
  /// exception raised while iterating `items` at item k comes out of the
  /// stream's next() after the results of items 0..k-1, as Python's imap
  /// raises it in place of item k; the pool goes on.
  template <class R, class A, class Range>
  pool_stream<R> imap(actor& self, R (*fn)(A), const Range& items, std::size_t chunksize = 1) {
    return stream(self, fn, items, chunksize, true, false);
  }
  /// Same, in the order they finish (an exception of the input range comes
  /// after every result).
  template <class R, class A, class Range>
  pool_stream<R> imap_unordered(actor& self, R (*fn)(A), const Range& items, std::size_t chunksize = 1) {
    return stream(self, fn, items, chunksize, false, false);
  }

  /// No more tasks; join() then waits for the submitted ones.
  void close(actor& self);
  /// Waits until every submitted task finished and the workers ended (after close()).
  task<void> join(actor& self);
  /// Stops the workers now; unfinished tasks fail.
  void terminate(actor& self);

  std::size_t processes() const noexcept { return processes_; }
  actor_ref coordinator() const noexcept { return coordinator_; }

 private:
  template <class>
  friend class pool_future;
  template <class>
  friend class pool_stream;

  pool(actor_ref c, std::size_t n) : coordinator_(c), processes_(n) {}
  static std::uint64_t fn_id(detail::erased_function fn);
  std::uint64_t submit(actor& self, std::uint64_t fn, std::uint8_t kind, detail::byte_buffer input);
  /// Waits up to `timeout` for the result of task `id`; empty when it did
  /// not come in time (results of others are kept, per process: futures
  /// and streams need no pool, and outlive a moved one). Fails the task
  /// when the coordinator is gone (it lives on this node).
  static task<std::optional<detail::pool_protocol::result>> wait(actor& self, actor_ref coordinator, std::uint64_t id,
                                                                 duration timeout = duration::max());
  /// Keeps a result taken by wait for a later one.
  static void keep(detail::pool_protocol::result r);
  /// Waits for the result of any task in `ids`.
  static task<detail::pool_protocol::result> wait_any(actor& self, actor_ref coordinator,
                                                      const std::unordered_map<std::uint64_t, std::size_t>& ids);

  std::size_t default_chunksize(std::size_t total) const {
    return std::max<std::size_t>(1, (total + 4 * processes_ - 1) / (4 * processes_));
  }

  /// Cuts `items` into chunks and submits them. An exception raised while
  /// iterating is thrown at once when `whole` (map: nothing is submitted),
  /// else kept for the stream after the items before it (imap).
  template <class R, class A, class Range>
  pool_stream<R> stream(actor& self, R (*fn)(A), const Range& items, std::size_t chunksize, bool ordered, bool whole) {
    std::uint64_t id = fn_id(detail::erase_function(fn));
    using item = std::decay_t<A>;
    // Items of plain type in contiguous memory are written into the job as
    // a Boost vector would be (count, then the bytes), without a copy of
    // the chunk first.
    if constexpr (std::ranges::contiguous_range<const Range&> && std::ranges::sized_range<const Range&> &&
                  std::is_same_v<std::ranges::range_value_t<const Range&>, item> &&
                  std::is_arithmetic_v<item>) {
      std::size_t total = static_cast<std::size_t>(std::ranges::size(items));
      if (chunksize == 0) chunksize = default_chunksize(total);
      std::vector<std::uint64_t> ids;
      std::vector<std::size_t> sizes;
      const item* p = std::ranges::data(items);
      for (std::size_t at = 0; at < total; at += chunksize) {
        std::size_t n = std::min(chunksize, total - at);
        detail::byte_buffer b;
        b.reserve(n * sizeof(item) + 16);
        {
          oarchive ar(b);
          boost::serialization::collection_size_type count(n);
          ar << count;
          ar << boost::serialization::make_array(p + at, n);
        }
        sizes.push_back(n);
        ids.push_back(submit(self, id, detail::pool_protocol::map, std::move(b)));
      }
      return pool_stream<R>(*this, std::move(ids), std::move(sizes), ordered);
    } else if constexpr (std::ranges::sized_range<const Range&>) {
      std::size_t total = static_cast<std::size_t>(std::ranges::size(items));
      if (chunksize == 0) chunksize = default_chunksize(total);
      return chunked<R, item>(self, id, items, std::min(chunksize, total), chunksize, ordered, whole, nullptr);
    } else {
      if (chunksize != 0) return chunked<R, item>(self, id, items, 0, chunksize, ordered, whole, nullptr);
      // The default chunk size needs the count: take the items first.
      std::vector<item> all;
      std::exception_ptr error;
      try {
        for (const auto& x : items) all.push_back(x);
      } catch (...) {
        if (whole) throw;
        error = std::current_exception();
      }
      chunksize = default_chunksize(all.size());
      return chunked<R, item>(self, id, all, std::min(chunksize, all.size()), chunksize, ordered, whole, error);
    }
  }

  template <class R, class Item, class Range>
  pool_stream<R> chunked(actor& self, std::uint64_t id, const Range& items, std::size_t reserve, std::size_t chunksize,
                         bool ordered, bool whole, std::exception_ptr error) {
    std::vector<detail::byte_buffer> inputs;
    std::vector<std::size_t> sizes;
    std::vector<Item> chunk;
    chunk.reserve(reserve);
    auto flush = [&] {
      if (chunk.empty()) return;
      detail::byte_buffer b;
      save_to(b, chunk);
      inputs.push_back(std::move(b));
      sizes.push_back(chunk.size());
      chunk.clear();
    };
    try {
      for (const auto& x : items) {
        chunk.push_back(x);
        if (chunk.size() == chunksize) flush();
      }
    } catch (...) {
      if (whole) throw;
      error = std::current_exception();
    }
    flush();  // (the items before the one that failed)
    // Submitted only now: the coordinator, on this node, could not have
    // started on them earlier anyway.
    std::vector<std::uint64_t> ids;
    ids.reserve(inputs.size());
    for (auto& b : inputs) ids.push_back(submit(self, id, detail::pool_protocol::map, std::move(b)));
    return pool_stream<R>(*this, std::move(ids), std::move(sizes), ordered, error);
  }

  actor_ref coordinator_;
  std::size_t processes_ = 0;
};

template <class R>
pool_future<R>::pool_future(pool& p, std::uint64_t id) : id_(id), coordinator_(p.coordinator()) {}

template <class R>
pool_stream<R>::pool_stream(pool& p, std::vector<std::uint64_t> ids, std::vector<std::size_t> sizes, bool ordered,
                            std::exception_ptr input_error)
    : coordinator_(p.coordinator()),
      ids_(std::move(ids)),
      sizes_(std::move(sizes)),
      ordered_(ordered),
      input_error_(std::move(input_error)) {}

class [[nodiscard]] pool_starter {
 public:
  explicit pool_starter(pool p) : p_(std::move(p)) {}
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  pool await_resume() { return std::move(*p_); }

 private:
  std::optional<pool> p_;
};

template <class R>
task<R> pool_future<R>::get(actor& self) {
  std::optional<detail::pool_protocol::result> r = co_await pool::wait(self, coordinator_, id_);
  if (!r->ok) detail::throw_failure(r->output);
  co_return detail::decode_result<R>(r->output);
}

template <class R>
task<R> pool_future<R>::get(actor& self, duration timeout) {
  std::optional<detail::pool_protocol::result> r = co_await pool::wait(self, coordinator_, id_, timeout);
  if (!r) throw pool_timeout("the task's result did not come in time");
  if (!r->ok) detail::throw_failure(r->output);
  co_return detail::decode_result<R>(r->output);
}

template <class R>
task<bool> pool_future<R>::wait(actor& self, duration timeout) {
  std::optional<detail::pool_protocol::result> r = co_await pool::wait(self, coordinator_, id_, timeout);
  if (!r) co_return false;
  pool::keep(std::move(*r));  // for the get that takes it
  co_return true;
}

template <class R>
task<bool> pool_stream<R>::append_chunk(actor& self, std::vector<R>& out) {
  if (next_chunk_ == ids_.size()) {
    if (input_error_) std::rethrow_exception(std::exchange(input_error_, nullptr));
    co_return false;
  }
  std::optional<detail::pool_protocol::result> got = co_await pool::wait(self, coordinator_, ids_[next_chunk_++]);
  detail::pool_protocol::result& r = *got;
  if (!r.ok) detail::throw_failure(r.output);
  if (out.empty()) {
    load_from(std::span(reinterpret_cast<const std::byte*>(r.output.data()), r.output.size()), out);
  } else {
    std::vector<R> chunk;
    load_from(std::span(reinterpret_cast<const std::byte*>(r.output.data()), r.output.size()), chunk);
    out.insert(out.end(), std::make_move_iterator(chunk.begin()), std::make_move_iterator(chunk.end()));
  }
  co_return true;
}

template <class R>
task<std::optional<R>> pool_stream<R>::next(actor& self) {
  if (!started_) {
    started_ = true;
    if (!ordered_)
      for (std::size_t i = 0; i < ids_.size(); ++i) pending_.emplace(ids_[i], sizes_[i]);
  }
  while (ready_.empty()) {
    detail::pool_protocol::result r;
    // Every chunk came: what the input range raised, once, then the end.
    if (ordered_ ? next_chunk_ == ids_.size() : pending_.empty()) {
      if (input_error_) std::rethrow_exception(std::exchange(input_error_, nullptr));
      co_return std::nullopt;
    }
    if (ordered_) {
      std::optional<detail::pool_protocol::result> got = co_await pool::wait(self, coordinator_, ids_[next_chunk_++]);
      r = std::move(*got);
    } else {
      r = co_await pool::wait_any(self, coordinator_, pending_);
      pending_.erase(r.id);
    }
    if (!r.ok) detail::throw_failure(r.output);
    std::vector<detail::result_t<R>> chunk;
    load_from(std::span(reinterpret_cast<const std::byte*>(r.output.data()), r.output.size()), chunk);
    for (auto&& x : chunk) ready_.push_back(std::move(x));
  }
  R v = std::move(ready_.front());
  ready_.pop_front();
  co_return v;
}

}  // namespace troupe
