// troupe::actor — an actor's view of itself ("self"): its address, its
// mailbox, and everything it can do: send, receive, request, spawn, monitor.
// An actor is a coroutine `task<void> body(actor& self, args...)` run by the
// node of its process; actors of one node never run at the same time.
#pragma once

#include <troupe/actor_ref.hpp>
#include <troupe/detail/blocking_pool.hpp>
#include <troupe/detail/envelope.hpp>
#include <troupe/detail/flow_control.hpp>
#include <troupe/detail/join_messages.hpp>
#include <troupe/detail/message_handler.hpp>
#include <troupe/detail/reply_table.hpp>
#include <troupe/errors.hpp>
#include <troupe/message.hpp>
#include <troupe/process.hpp>
#include <troupe/spawn_options.hpp>
#include <troupe/task.hpp>
#include <troupe/time.hpp>

#include <array>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace troupe {

class node;
class actor;
class deterministic_node;


namespace detail {

class router;
struct process_state;
namespace sys {
struct lookup_reply;
}

/// What a waiting actor waits for; lives in the awaiter, in the actor's frame.
struct wait_state {
  const type_id* types = nullptr;  ///< accepted types; none means any
  std::size_t type_count = 0;
  std::uint64_t correlation = 0;  ///< nonzero: only the response to this request
  envelope* result = nullptr;
};

enum class wait_kind : std::uint8_t { none, start, receive, send, sleep, yield, external, blocking };

struct watcher {
  actor_ref who;
  std::uint64_t correlation;  ///< 0: a monitor; else an unanswered request
};

template <class... Ts>
struct receive_result {
  using type = message;
};
template <class T>
struct receive_result<T> {
  using type = received<T>;
};

}  // namespace detail

namespace detail {
/// A function that can be started by name in another process:
/// `task<void> f(actor&, P...)`, passed as `f` or `&f`.
template <class F>
inline constexpr bool is_actor_function_v = false;
template <class... P>
inline constexpr bool is_actor_function_v<task<void> (*)(actor&, P...)> = true;
template <class F>
concept is_actor_function = is_actor_function_v<std::decay_t<F>>;
}  // namespace detail

/// Awaitable returned by actor::send and actor::throttle: suspends only
/// while a receiver this actor sent to is over its bound (backpressure).
/// Not awaiting it (a plain `self.send(to, m);`) is fine: it does nothing
/// on its own.
class send_awaiter {
 public:
  explicit send_awaiter(actor& self) noexcept : self_(self) {}
  bool await_ready() const noexcept;
  bool await_suspend(std::coroutine_handle<> h) noexcept;
  void await_resume();

 private:
  actor& self_;
};

template <bool Timed, class... Ts>
class [[nodiscard]] receive_awaiter {
 public:
  using value_type = typename detail::receive_result<Ts...>::type;
  /// A timed receive gives the same as an untimed one, empty (false) when
  /// it gave up.
  using result_type = value_type;

  receive_awaiter(actor& self, duration timeout) noexcept;
  bool await_ready();
  void await_suspend(std::coroutine_handle<> h);
  result_type await_resume();

 private:
  actor& self_;
  duration timeout_;
  std::array<type_id, sizeof...(Ts) == 0 ? 1 : sizeof...(Ts)> types_;
  detail::wait_state ws_;
};

/// Awaitable returned by the handler form of actor::receive: takes the next
/// message of a type one of the handlers accepts and calls that handler
/// (the first that accepts it). Timed, it returns false when it gave up.
template <bool Timed, class... H>
class [[nodiscard]] handler_awaiter {
 public:
  template <class... G>
  handler_awaiter(actor& self, duration timeout, G&&... handlers)
      : inner_(self, timeout), handlers_(std::forward<G>(handlers)...) {}
  handler_awaiter(const handler_awaiter&) = delete;
  handler_awaiter& operator=(const handler_awaiter&) = delete;

  bool await_ready() { return inner_.await_ready(); }
  void await_suspend(std::coroutine_handle<> h) { inner_.await_suspend(h); }
  std::conditional_t<Timed, bool, void> await_resume() {
    auto r = inner_.await_resume();
    if constexpr (Timed) {
      if (!r) return false;
      dispatch<0>(raw_of(r));
      return true;
    } else {
      dispatch<0>(raw_of(r));
    }
  }

 private:
  static message& raw_of(message& m) noexcept { return m; }
  template <class T>
  static message& raw_of(received<T>& r) noexcept {
    return r.raw();
  }
  template <std::size_t I>
  void dispatch(message& m) {
    if constexpr (I < sizeof...(H)) {
      using handler = std::tuple_element_t<I, std::tuple<H...>>;
      using T = detail::handled_t<handler>;
      if (T* v = m.get_if<T>()) {
        if constexpr (detail::handled_of<handler>::wants_received) {
          received<T> r(std::move(m));
          std::get<I>(handlers_)(r);
        } else {
          std::get<I>(handlers_)(*v);
        }
        return;
      }
      dispatch<I + 1>(m);
    }
  }

  receive_awaiter<Timed, detail::handled_t<H>...> inner_;
  std::tuple<H...> handlers_;
};

/// Awaitable returned by actor::request: the reply, once it is there. An
/// actor may hold any number of these and await them in any order; a reply
/// that comes before its await is kept for it. Destroying one that was never
/// awaited abandons the request (its reply is dropped when it comes).
template <class R>
class [[nodiscard]] request_awaiter {
 public:
  request_awaiter(actor& self, actor_ref to, std::uint64_t correlation, clock::time_point deadline,
                  std::optional<request_failed> failed) noexcept;
  request_awaiter(request_awaiter&& o) noexcept;
  request_awaiter& operator=(request_awaiter&& o) noexcept;
  ~request_awaiter();

  bool await_ready() noexcept;
  void await_suspend(std::coroutine_handle<> h);
  received<R> await_resume();

 private:
  void abandon() noexcept;

  actor* self_;
  actor_ref to_;
  std::uint64_t correlation_;  ///< 0 once awaited or moved from
  clock::time_point deadline_;
  std::optional<request_failed> failed_;
  detail::wait_state ws_;
};

/// Awaitable returned by actor::spawn(node_ref, ...): the new actor's address.
template <class R>
class [[nodiscard]] remote_spawn_awaiter {
 public:
  remote_spawn_awaiter(request_awaiter<R> req) : req_(std::move(req)) {}
  explicit remote_spawn_awaiter(actor_ref local) : local_(local) {}
  bool await_ready() noexcept { return local_ || req_->await_ready(); }
  void await_suspend(std::coroutine_handle<> h) { req_->await_suspend(h); }
  actor_ref await_resume();

 private:
  actor_ref local_;
  std::optional<request_awaiter<R>> req_;
};

/// Awaitable returned by actor::spawn_process: the process once it has
/// joined the cluster. Throws spawn_error if it could not start.
class [[nodiscard]] spawn_process_awaiter {
 public:
  spawn_process_awaiter(actor& self, std::shared_ptr<detail::process_state> s, duration timeout) noexcept
      : self_(self), s_(std::move(s)), timeout_(timeout) {}
  bool await_ready() const noexcept;
  void await_suspend(std::coroutine_handle<> h);
  process await_resume();

  // Using the awaiter as if it were the process is a compile-time error
  // that names the fix.
#define TROUPE_DETAIL_AWAIT_SPAWN_PROCESS \
  "troupe: spawn_process(...) must be co_awaited: troupe::process p = co_await self.spawn_process(...);"
  template <class P>
    requires std::is_same_v<P, process>
  operator P() const {
    static_assert(detail::always_false<P>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
    return P();
  }
  template <class D = void>
  pid_t pid(D* = nullptr) const {
    static_assert(detail::always_false<D>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
    return 0;
  }
  template <class D = void>
  node_ref node(D* = nullptr) const {
    static_assert(detail::always_false<D>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
    return node_ref{};
  }
  template <class D = void>
  actor_ref main_actor(D* = nullptr) const {
    static_assert(detail::always_false<D>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
    return actor_ref{};
  }
  template <class... D>
  void join(D&&...) const {
    static_assert(detail::always_false<D...>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
  }
  template <class D = void>
  void terminate(D* = nullptr) const {
    static_assert(detail::always_false<D>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
  }
  template <class D = void>
  void kill(D* = nullptr) const {
    static_assert(detail::always_false<D>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
  }
  template <class D = void>
  bool is_alive(D* = nullptr) const {
    static_assert(detail::always_false<D>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
    return false;
  }

 private:
  actor& self_;
  std::shared_ptr<detail::process_state> s_;
  duration timeout_;
};

/// Awaitable returned by actor::lookup.
class [[nodiscard]] lookup_awaiter {
 public:
  lookup_awaiter(std::optional<actor_ref> found, std::optional<request_awaiter<detail::sys::lookup_reply>> req)
      : found_(found), req_(std::move(req)) {}
  bool await_ready() noexcept { return !req_ || req_->await_ready(); }
  void await_suspend(std::coroutine_handle<> h) { req_->await_suspend(h); }
  std::optional<actor_ref> await_resume();

 private:
  std::optional<actor_ref> found_;
  std::optional<request_awaiter<detail::sys::lookup_reply>> req_;
};

/// Awaitable returned by actor::join_all: a `down` per actor, in the order
/// given, once all have ended (Timed: empty if the timeout came first).
template <bool Timed>
class [[nodiscard]] join_all_awaiter {
 public:
  using result_type = std::conditional_t<Timed, std::optional<std::vector<down>>, std::vector<down>>;
  join_all_awaiter(actor& self, actor_ref helper, std::optional<request_awaiter<detail::join_reply>> req) noexcept
      : self_(&self), helper_(helper), req_(std::move(req)) {}
  bool await_ready() noexcept { return !req_ || req_->await_ready(); }
  void await_suspend(std::coroutine_handle<> h) { req_->await_suspend(h); }
  result_type await_resume();

 private:
  actor* self_;
  actor_ref helper_;
  std::optional<request_awaiter<detail::join_reply>> req_;  ///< none: nothing to wait for
};

/// Awaitable returned by actor::run_blocking: the function's result, or
/// its exception.
template <class R>
class [[nodiscard]] blocking_awaiter {
 public:
  blocking_awaiter(actor& self, std::shared_ptr<detail::blocking_job> job,
                   std::conditional_t<std::is_void_v<R>, bool, std::optional<R>>* result, std::exception_ptr* error) noexcept
      : self_(self), job_(std::move(job)), result_(result), error_(error) {}
  blocking_awaiter(const blocking_awaiter&) = delete;  // one job, run once
  blocking_awaiter& operator=(const blocking_awaiter&) = delete;
  blocking_awaiter(blocking_awaiter&&) noexcept = default;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h);
  R await_resume() {
    if (*error_) std::rethrow_exception(*error_);
    if constexpr (!std::is_void_v<R>) return std::move(**result_);
  }

 private:
  actor& self_;
  std::shared_ptr<detail::blocking_job> job_;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>>* result_;
  std::exception_ptr* error_;
};

class [[nodiscard]] sleep_awaiter {
 public:
  sleep_awaiter(actor& self, duration d) noexcept : self_(self), d_(d) {}
  bool await_ready() const noexcept;
  void await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  actor& self_;
  duration d_;
};

class actor : public detail::pooled {
 public:
  actor(const actor&) = delete;
  actor& operator=(const actor&) = delete;

  actor_ref ref() const noexcept { return ref_; }
  troupe::node& node() const noexcept { return *node_; }

  // --- sending -----------------------------------------------------------

  /// Sends `msg` to `to`. A local receiver gets the object itself (moved,
  /// never serialized); one in another process gets it serialized, through
  /// the transport that reaches it.
  ///
  /// `self.send(to, msg);` never suspends. `co_await self.send(to, msg);`
  /// also waits, when this send left the receiver's mailbox (or its window,
  /// or the link to its process) over its bound, until it has drained; it
  /// costs nothing otherwise. A loop that sends much should await its sends.
  template <sendable T>
  send_awaiter send(actor_ref to, T&& msg);
  template <class T>
    requires(!sendable<T>)
  send_awaiter send(actor_ref, T&&) {
    static_assert(detail::always_false<T>, TROUPE_DETAIL_NOT_A_MESSAGE);
    return send_awaiter(*this);
  }

  /// Suspends while the last receiver found over its bound by a plain send
  /// is still over it; costs nothing otherwise.
  [[nodiscard]] send_awaiter throttle() noexcept { return send_awaiter(*this); }

  /// Answers a request (see request()); for a plain message, sends to its
  /// sender.
  template <sendable T>
  void reply(const message& to_request, T&& msg);
  template <class T>
    requires(!sendable<T>)
  void reply(const message&, T&&) {
    static_assert(detail::always_false<T>, TROUPE_DETAIL_NOT_A_MESSAGE);
  }
  template <class Q, sendable T>
  void reply(const received<Q>& to_request, T&& msg) {
    reply(to_request.raw(), std::forward<T>(msg));
  }

  // --- receiving ---------------------------------------------------------

  /// Next message. receive<>() takes any type; receive<A, B>() only A or B
  /// (others stay in the mailbox, in order). With one type the result is a
  /// received<T>, otherwise a message.
  template <sendable... Ts>
  receive_awaiter<false, Ts...> receive() noexcept {
    return {*this, duration::zero()};
  }
  /// Same, giving up after `timeout`: the result is empty (false) then.
  template <sendable... Ts>
  receive_awaiter<true, Ts...> receive(duration timeout) noexcept {
    return {*this, timeout};
  }
  /// The handler form: waits for the next message of a type one of the
  /// handlers takes, and calls that handler with it.
  ///
  ///   co_await self.receive([&](const ping& p) { ... },
  ///                         [&](troupe::received<job>& j) { self.reply(j, done{}); });
  ///
  /// A handler takes a message type T (T, T& or const T&) or received<T>&
  /// (for the sender and reply). Messages of other types stay in the
  /// mailbox, in order. Handlers are plain functions, not coroutines.
  template <class... H>
    requires(sizeof...(H) > 0 && (detail::message_handler<H> && ...))
  handler_awaiter<false, std::decay_t<H>...> receive(H&&... handlers) {
    return {*this, duration::zero(), std::forward<H>(handlers)...};
  }
  /// Same, giving up after `timeout`: the await returns false then (true
  /// when a handler ran).
  template <class... H>
    requires(sizeof...(H) > 0 && (detail::message_handler<H> && ...))
  handler_awaiter<true, std::decay_t<H>...> receive(duration timeout, H&&... handlers) {
    return {*this, timeout, std::forward<H>(handlers)...};
  }

  template <class... Ts>
    requires(!(sendable<Ts> && ...))
  void receive(...) {
    static_assert(detail::always_false<Ts...>, TROUPE_DETAIL_NOT_A_MESSAGE " (a type given to receive<...>)");
  }

  /// Sends `msg` and awaits the reply of type R (the target answers with
  /// reply()). Throws request_error on timeout, when the target does not
  /// exist, ends before answering, or cannot be reached.
  template <sendable R, sendable T>
  request_awaiter<R> request(actor_ref to, T&& msg, duration timeout);
  template <class R, class T>
    requires(!sendable<R> || !sendable<T>)
  void request(actor_ref, T&&, duration) {
    static_assert(sendable<T>, TROUPE_DETAIL_NOT_A_MESSAGE " (the request)");
    static_assert(sendable<R>, TROUPE_DETAIL_NOT_A_MESSAGE " (the reply type, request<R>)");
  }

  // --- spawning, monitoring, names --------------------------------------

  /// Starts an actor in this process: `fn(self, args...)` must return
  /// task<void>. Arguments are stored with the actor, so the body may take
  /// them by reference.
  template <class F, class... A>
    requires(!std::is_same_v<std::remove_cvref_t<F>, spawn_options> &&
             !std::is_same_v<std::remove_cvref_t<F>, node_ref> && !std::is_same_v<std::remove_cvref_t<F>, process> &&
             !std::is_same_v<std::remove_cvref_t<F>, spawn_process_awaiter>)
  actor_ref spawn(F&& fn, A&&... args) {
    return spawn_local(std::forward<F>(fn), std::forward<A>(args)...);
  }
  template <class F, class... A>
  actor_ref spawn(const spawn_options& opts, F&& fn, A&&... args);

  /// Starts `fn(self, args...)` on another node (a process of this cluster,
  /// here or on another machine). `fn` must be registered with
  /// TROUPE_ACTOR; the arguments travel serialized.
  template <class... P, class... A>
  remote_spawn_awaiter<actor_ref> spawn(node_ref where, task<void> (*fn)(actor&, P...), A&&... args);
  template <class... P, class... A>
  remote_spawn_awaiter<actor_ref> spawn(const process& where, task<void> (*fn)(actor&, P...), A&&... args) {
    return spawn(where.node(), fn, std::forward<A>(args)...);
  }
  template <class F, class... A>
  void spawn(const spawn_process_awaiter&, F&&, A&&...) {
    static_assert(detail::always_false<F>, TROUPE_DETAIL_AWAIT_SPAWN_PROCESS);
  }
  template <class W, class F, class... A>
    requires((std::is_same_v<std::remove_cvref_t<W>, node_ref> || std::is_same_v<std::remove_cvref_t<W>, process>) &&
             !detail::is_actor_function<F>)
  void spawn(W&&, F&&, A&&...) {
    static_assert(detail::always_false<F>,
                  "troupe: an actor started on another node must be a function registered with TROUPE_ACTOR(f), "
                  "not a lambda: the other process starts it by its name");
  }

  /// Starts a new OS process running this program as a worker node of
  /// this cluster; completes once it has joined.
  spawn_process_awaiter spawn_process(process_options opts);
  spawn_process_awaiter spawn_process();
  /// Same, with `main(self, args...)` (registered with TROUPE_ACTOR) as its
  /// main actor: the process ends when main returns (exit code 0), throws
  /// (exit code 1) or throws process_exit{code}. It is returned as soon as
  /// it runs (as Python's start() returns); what is sent to it meanwhile
  /// waits for it to join.
  template <class... P, class... A>
  spawn_process_awaiter spawn_process(process_options opts, task<void> (*main)(actor&, P...), A&&... args);
  template <class... P, class... A>
  spawn_process_awaiter spawn_process(task<void> (*main)(actor&, P...), A&&... args) {
    return spawn_process(process_options{}, main, std::forward<A>(args)...);
  }
  template <class F, class... A>
    requires(!std::is_same_v<std::remove_cvref_t<F>, process_options> && !detail::is_actor_function<F>)
  spawn_process_awaiter spawn_process(F&&, A&&...) {
    static_assert(detail::always_false<F>,
                  "troupe: the main actor of a process must be a function registered with TROUPE_ACTOR(f), "
                  "not a lambda: the new process starts it by its name");
    return spawn_process();
  }
  template <class F, class... A>
    requires(!detail::is_actor_function<F>)
  spawn_process_awaiter spawn_process(process_options, F&&, A&&...) {
    static_assert(detail::always_false<F>,
                  "troupe: the main actor of a process must be a function registered with TROUPE_ACTOR(f), "
                  "not a lambda: the new process starts it by its name");
    return spawn_process();
  }

  /// Waits until every actor in `actors` (of this node or any other) has
  /// ended, and gives how each ended: a `down` per actor, in the order
  /// given. A helper actor does the monitoring, so this actor's own
  /// monitors and mailbox are left as they are.
  join_all_awaiter<false> join_all(std::vector<actor_ref> actors);
  /// Same, giving up after `timeout`: the result is empty then.
  join_all_awaiter<true> join_all(std::vector<actor_ref> actors, duration timeout);

  /// Looks a name up on this node, then in the whole cluster.
  lookup_awaiter lookup(std::string name, duration timeout = std::chrono::seconds(5));

  /// Delivers a `down` message to this actor when `target` ends (at once,
  /// with reason no_such_actor, if it does not exist).
  void monitor(actor_ref target);
  void demonitor(actor_ref target);

  /// Registers this actor's name on its node; false if taken.
  bool register_name(std::string name);
  /// Looks a name up on this node (on the root node: names of every node
  /// it has heard of); lookup() asks the cluster.
  std::optional<actor_ref> whereis(std::string_view name) const;

  /// Ends another actor at once (its monitors see exit_reason::killed).
  void kill(actor_ref target);

  // --- blocking work --------------------------------------------------------

  /// Runs `fn()` on a thread of this node's blocking pool and awaits its
  /// result (or exception); the event loop and every other actor go on
  /// meanwhile, as with asyncio.to_thread. For CPU-bound or blocking work
  /// (file I/O, a C library). `fn` is moved into the job: it must not touch
  /// the actor or its node. The wait cannot be interrupted: a shutdown
  /// takes effect once `fn` has returned.
  template <class F>
  blocking_awaiter<std::invoke_result_t<std::decay_t<F>&>> run_blocking(F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    auto job = std::make_shared<detail::blocking_job_of<std::decay_t<F>, R>>(std::forward<F>(fn));
    auto* result = &job->result;
    auto* error = &job->error;
    return blocking_awaiter<R>(*this, std::move(job), result, error);
  }

  // --- time ----------------------------------------------------------------

  sleep_awaiter sleep_for(duration d) noexcept { return {*this, d}; }
  /// Lets every other ready actor run before this one goes on.
  sleep_awaiter yield() noexcept { return {*this, duration::zero()}; }

  /// Messages waiting in the mailbox.
  std::size_t mailbox_size() const noexcept { return mbox_size_; }
  /// True once the node asked this actor to finish (shutdown, terminate).
  bool shutdown_requested() const noexcept { return shutdown_; }

 protected:
  explicit actor(troupe::node& n) noexcept : node_(&n) {}
  virtual ~actor() = default;
  virtual task<void> start_body() = 0;

 private:
  friend class troupe::node;
  friend class detail::router;
  friend class deterministic_node;
  friend class send_awaiter;
  template <class F, class... A>
  actor_ref spawn_local(F&& fn, A&&... args);
  friend class sleep_awaiter;
  template <bool, class...>
  friend class receive_awaiter;
  template <class>
  friend class request_awaiter;
  friend class spawn_process_awaiter;
  friend class process;
  template <class>
  friend class blocking_awaiter;

  troupe::node* node_;
  actor_ref ref_;

  // mailbox: intrusive FIFO of envelopes
  detail::envelope* mbox_head_ = nullptr;
  detail::envelope* mbox_tail_ = nullptr;
  std::uint32_t mbox_size_ = 0;
  std::uint32_t mbox_capacity_ = 0;

  // waiting and scheduling
  detail::wait_kind wait_ = detail::wait_kind::none;
  bool ready_ = false;
  bool shutdown_ = false;
  bool finished_ = false;
  bool named_ = false;
  detail::wait_state* ws_ = nullptr;
  std::coroutine_handle<> resume_;
  actor* ready_prev_ = nullptr;
  actor* ready_next_ = nullptr;

  // timer (index into the node's deadline heap)
  std::size_t timer_index_ = static_cast<std::size_t>(-1);
  clock::time_point deadline_{};

  // senders suspended until this mailbox drains, and what this actor waits on
  actor* blocked_head_ = nullptr;
  actor* blocked_next_ = nullptr;
  actor* blocked_on_ = nullptr;
  detail::blocked_list* blocked_on_list_ = nullptr;  ///< a link's or a remote receiver's waiters
  std::vector<detail::credit_owed> owed_;           ///< credit to hand back to sending nodes
  std::uint32_t park_token_ = 0;
  detail::blocking_job* blocking_ = nullptr;  ///< the job run_blocking waits for
  // Requests sent and not yet answered, with replies that came before
  // their await.
  detail::reply_table replies_;
  actor_ref throttle_on_;  ///< the last receiver found over its bound

  std::vector<detail::watcher> watchers_;
  std::coroutine_handle<detail::task_promise<void>> body_;
};

namespace detail {

/// The parameter types of an actor body after `actor&`, when they can be
/// read off its type (a function, or a lambda whose call operator is not a
/// template); arguments are stored as those types, so a body taking
/// `const std::string&` keeps a std::string, not the `const char*` passed.
template <class... P>
struct param_list {};
template <class F>
struct body_params {
  using type = void;
};
template <class R, class... P>
struct body_params<R (*)(actor&, P...)> {
  using type = param_list<P...>;
};
template <class R, class... P>
struct body_params<R(actor&, P...)> {
  using type = param_list<P...>;
};
template <class M>
struct member_params {
  using type = void;
};
template <class R, class C, class... P>
struct member_params<R (C::*)(actor&, P...) const> {
  using type = param_list<P...>;
};
template <class R, class C, class... P>
struct member_params<R (C::*)(actor&, P...)> {
  using type = param_list<P...>;
};
/// A parameter taken by non-const reference keeps what was passed (e.g. a
/// std::reference_wrapper); any other is stored as the parameter's type.
template <class P, class Given>
using stored_t = std::conditional_t<std::is_lvalue_reference_v<P> && !std::is_const_v<std::remove_reference_t<P>>,
                                    std::decay_t<Given>, std::decay_t<P>>;
template <class F>
  requires requires { &F::operator(); }
struct body_params<F> : member_params<decltype(&F::operator())> {};

/// An actor together with its body: the callable and its arguments live as
/// long as the actor, so the coroutine may refer to them.
template <class F, class... A>
class actor_with_body;
template <class F, class Stored, class... Given>
struct body_for {
  using type = actor_with_body<F, std::decay_t<Given>...>;
};
template <class F, class... P, class... Given>
  requires(sizeof...(P) == sizeof...(Given))
struct body_for<F, param_list<P...>, Given...> {
  using type = actor_with_body<F, stored_t<P, Given>...>;
};

template <class F, class... A>
class actor_with_body final : public actor {
 public:
  template <class G, class... B>
  actor_with_body(troupe::node& n, G&& f, B&&... a) : actor(n), f_(std::forward<G>(f)), args_(std::forward<B>(a)...) {}

 protected:
  task<void> start_body() override {
    return std::apply([this](A&... a) -> task<void> { return std::invoke(f_, static_cast<actor&>(*this), a...); },
                      args_);
  }

 private:
  F f_;
  std::tuple<A...> args_;
};

}  // namespace detail

}  // namespace troupe

#include <troupe/node.hpp>
