// Inline parts of actor and node: the message hot path.
#pragma once

#include <troupe/actor_registry.hpp>
#include <troupe/detail/process_manager.hpp>
#include <troupe/detail/process_state.hpp>
#include <troupe/detail/router.hpp>
#include <troupe/detail/system_messages.hpp>
#include <troupe/transport/frame.hpp>

#include <csignal>
#include <type_traits>

namespace troupe {

// --- node ----------------------------------------------------------------

template <class F, class... A>
actor_ref node::spawn(const spawn_options& opts, F&& fn, A&&... args) {
  using body = typename detail::body_for<std::decay_t<F>, typename detail::body_params<std::decay_t<F>>::type,
                                         A...>::type;
  static_assert(std::is_invocable_r_v<task<void>, std::decay_t<F>&, actor&, std::decay_t<A>&...>,
                "troupe: an actor body is callable as fn(actor& self, args...) and returns troupe::task<void>; "
                "it must be a coroutine (a lambda needs `-> troupe::task<void>` and a co_await or co_return)");
  return start(new body(*this, std::forward<F>(fn), std::forward<A>(args)...), opts);
}

template <class T>
bool node::post_message(actor_ref from, actor_ref to, T&& msg, std::uint64_t correlation, std::uint8_t flags) {
  using V = std::remove_cvref_t<T>;
  const message_type& type = message_type_of<V>();
  if (to.node == id_) [[likely]] {
    actor* target = lookup(to.id);
    auto* e = new detail::typed_envelope<V>(std::in_place, std::forward<T>(msg));
    e->type = &type;
    e->sender = from;
    e->correlation = correlation;
    e->flags = flags;
    if (!target) {
      dead_letter(e, to, "no such actor");
      return false;
    }
    enqueue(target, e);
    return target->ref_ != from && target->mbox_size_ > target->mbox_capacity_;
  }
  return send_remote(from, to, type, &msg, correlation, flags);
}

// --- actor ---------------------------------------------------------------

template <sendable T>
send_awaiter actor::send(actor_ref to, T&& msg) {
  if (node_->post_message(ref_, to, std::forward<T>(msg), 0, 0)) throttle_on_ = to;
  return send_awaiter(*this);
}

template <sendable T>
void actor::reply(const message& to_request, T&& msg) {
  if (to_request.is_request()) {
    node_->answered(this, to_request.sender(), to_request.correlation());
    (void)node_->post_message(ref_, to_request.sender(), std::forward<T>(msg), to_request.correlation(),
                              frame_flags::response);
  } else {
    (void)node_->post_message(ref_, to_request.sender(), std::forward<T>(msg), 0, 0);
  }
}

template <sendable R, sendable T>
request_awaiter<R> actor::request(actor_ref to, T&& msg, duration timeout) {
  clock::time_point deadline = timeout == duration::max() ? clock::time_point::max() : deadline_after(node_->now(), timeout);
  if (to.node == node_->id_ && !node_->lookup(to.id))
    return {*this, to, 0, deadline, request_failed{request_errc::no_such_actor, "no actor " + to.to_string()}};
  std::uint64_t correlation = node_->begin_request(this);
  try {
    (void)node_->post_message(ref_, to, std::forward<T>(msg), correlation, frame_flags::request);
  } catch (...) {
    node_->end_request(this, correlation, to.node);
    throw;
  }
  return {*this, to, correlation, deadline, std::nullopt};
}

template <class F, class... A>
actor_ref actor::spawn_local(F&& fn, A&&... args) {
  return node_->spawn(spawn_options{}, std::forward<F>(fn), std::forward<A>(args)...);
}

template <class F, class... A>
actor_ref actor::spawn(const spawn_options& opts, F&& fn, A&&... args) {
  return node_->spawn(opts, std::forward<F>(fn), std::forward<A>(args)...);
}

template <class T>
void node::post_system(actor_ref from, node_id to, const T& msg, std::uint64_t correlation, std::uint8_t flags) {
  if (!router_) {
    if (flags & frame_flags::request)
      answer_failed_request(from, correlation, actor_ref{to, 0}, request_errc::unreachable,
                            "no route to node " + node_id_string(to));
    return;
  }
  router_->send_system(from, to, msg, correlation, flags);
}

template <class... P, class... A>
remote_spawn_awaiter<actor_ref> actor::spawn(node_ref where, task<void> (*fn)(actor&, P...), A&&... args) {
  if (where.id == node_->id_ || where.id == 0) return remote_spawn_awaiter<actor_ref>(spawn(fn, std::forward<A>(args)...));
  const detail::actor_factory* f = detail::find_actor_factory(detail::erase_function(fn));
  if (!f) throw spawn_error("cannot start an actor on another node: its function is not registered with TROUPE_ACTOR");
  detail::sys::spawn req;
  req.actor_name = f->name;
  {
    detail::byte_buffer b;
    detail::save_args<std::decay_t<P>...>(b, static_cast<std::decay_t<P>>(std::forward<A>(args))...);
    req.args.assign(reinterpret_cast<const char*>(b.data()), reinterpret_cast<const char*>(b.data()) + b.size());
  }
  std::uint64_t correlation = node_->begin_request(this);
  node_->post_system(ref_, where.id, req, correlation, frame_flags::request);
  return remote_spawn_awaiter<actor_ref>(request_awaiter<actor_ref>(
      *this, actor_ref{where.id, 0}, correlation, deadline_after(node_->now(), std::chrono::seconds(30)), std::nullopt));
}

template <class R>
actor_ref remote_spawn_awaiter<R>::await_resume() {
  if (local_) return local_;
  try {
    return *req_->await_resume();
  } catch (const request_error& e) {
    throw spawn_error(std::string("cannot start the actor: ") + e.what());
  }
}

template <bool Timed>
typename join_all_awaiter<Timed>::result_type join_all_awaiter<Timed>::await_resume() {
  if (!req_) return std::vector<down>{};
  try {
    auto r = req_->await_resume();
    return std::move(r->downs);
  } catch (const request_error& e) {
    if constexpr (Timed) {
      if (e.code() == request_errc::timeout) {
        self_->kill(helper_);  // nobody is left to answer
        return std::nullopt;
      }
    }
    throw;
  }
}

template <class... P, class... A>
spawn_process_awaiter actor::spawn_process(process_options opts, task<void> (*main)(actor&, P...), A&&... args) {
  const detail::actor_factory* f = detail::find_actor_factory(detail::erase_function(main));
  if (!f) throw spawn_error("the main actor of a process must be registered with TROUPE_ACTOR");
  if (!node_->processes_) throw spawn_error("this node cannot start processes (run the program with troupe::run)");
  detail::byte_buffer b;
  detail::save_args<std::decay_t<P>...>(b, static_cast<std::decay_t<P>>(std::forward<A>(args))...);
  duration timeout = opts.start_timeout;
  return spawn_process_awaiter(*this, node_->processes_->spawn(opts, f->name, b), timeout);
}

template <class... P>
actor_ref detail::start_registered(node& n, const spawn_options& opts, erased_function fn, std::span<const std::byte> bytes) {
  using F = task<void>(actor&, P...);
  std::tuple<std::decay_t<P>...> args;
  load_args(bytes, args);
  return std::apply([&](auto&... a) { return n.spawn(opts, restore_function<F>(fn), std::move(a)...); }, args);
}

class process::join_awaiter {
 public:
  join_awaiter(actor& self, std::shared_ptr<detail::process_state> s, duration timeout) noexcept
      : self_(self), s_(std::move(s)), timeout_(timeout) {}
  bool await_ready() const noexcept { return !s_ || s_->exited || self_.shutdown_requested(); }
  void await_suspend(std::coroutine_handle<> h) {
    troupe::node& n = self_.node();
    clock::time_point deadline = deadline_after(n.now(), timeout_);
    s_->exit_waiters.emplace_back(self_.ref(), n.park(&self_, h, deadline));
  }
  bool await_resume() {
    if (s_ && !s_->exited && self_.shutdown_requested()) throw actor_shutdown();
    return !s_ || s_->exited;
  }

 private:
  actor& self_;
  std::shared_ptr<detail::process_state> s_;
  duration timeout_;
};

inline process::join_awaiter process::join(actor& self) const noexcept { return join_awaiter(self, s_, duration::max()); }
inline process::join_awaiter process::join(actor& self, duration timeout) const noexcept {
  return join_awaiter(self, s_, timeout);
}

// A process with a main actor is started once it runs (as Python's
// Process.start returns): its main may well end before its link is up.
// A serving process is waited for until it has joined the cluster.
inline bool spawn_process_awaiter::await_ready() const noexcept {
  return s_->has_main || s_->ready || s_->exited || self_.shutdown_;
}

inline void spawn_process_awaiter::await_suspend(std::coroutine_handle<> h) {
  troupe::node& n = *self_.node_;
  s_->start_waiters.emplace_back(self_.ref_, n.park(&self_, h, deadline_after(n.now(), timeout_)));
}

inline process spawn_process_awaiter::await_resume() {
  if (s_->has_main || (s_->ready && !s_->exited)) return process(s_);
  if (self_.shutdown_) {
    if (!s_->exited) ::kill(s_->pid, SIGKILL);
    throw actor_shutdown();
  }
  if (s_->exited)
    throw spawn_error("process " + s_->name + " ended before it joined the cluster: " + s_->reason);
  ::kill(s_->pid, SIGKILL);
  throw spawn_error("process " + s_->name + " did not join the cluster in time");
}

inline std::optional<actor_ref> lookup_awaiter::await_resume() {
  if (!req_) return found_;
  auto r = req_->await_resume();
  if (!r->found) return std::nullopt;
  return r->ref;
}

// --- awaiters --------------------------------------------------------------

inline bool send_awaiter::await_ready() const noexcept {
  return !self_.throttle_on_ && !self_.shutdown_;
}

inline bool send_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  node& n = *self_.node_;
  if (self_.shutdown_) return false;
  actor_ref target = std::exchange(self_.throttle_on_, actor_ref{});
  n.block_on(&self_, target);
  if (!self_.blocked_on_ && !self_.blocked_on_list_) return false;
  n.suspend(&self_, h, detail::wait_kind::send);
  return true;
}

inline void send_awaiter::await_resume() {
  if (self_.shutdown_) throw actor_shutdown();
}

template <bool Timed, class... Ts>
receive_awaiter<Timed, Ts...>::receive_awaiter(actor& self, duration timeout) noexcept
    : self_(self), timeout_(timeout), types_{message_type_of<Ts>().id...} {
  ws_.types = types_.data();
  ws_.type_count = sizeof...(Ts);
}

template <bool Timed, class... Ts>
bool receive_awaiter<Timed, Ts...>::await_ready() {
  if (self_.shutdown_) return true;
  ws_.result = self_.node_->take(&self_, ws_);
  return ws_.result != nullptr;
}

template <bool Timed, class... Ts>
void receive_awaiter<Timed, Ts...>::await_suspend(std::coroutine_handle<> h) {
  node& n = *self_.node_;
  self_.ws_ = &ws_;
  n.suspend(&self_, h, detail::wait_kind::receive);
  if constexpr (Timed) n.timer_add(&self_, deadline_after(n.now(), timeout_));
}

template <bool Timed, class... Ts>
auto receive_awaiter<Timed, Ts...>::await_resume() -> result_type {
  self_.ws_ = nullptr;
  if (ws_.result) return value_type(message(std::exchange(ws_.result, nullptr)));
  if (self_.shutdown_) throw actor_shutdown();
  if constexpr (Timed)
    return value_type();
  else
    throw actor_shutdown();  // an untimed wait ends without a message only on shutdown
}

template <class R>
request_awaiter<R>::request_awaiter(actor& self, actor_ref to, std::uint64_t correlation, clock::time_point deadline,
                                    std::optional<request_failed> failed) noexcept
    : self_(&self), to_(to), correlation_(correlation), deadline_(deadline), failed_(std::move(failed)) {}

template <class R>
request_awaiter<R>::request_awaiter(request_awaiter&& o) noexcept
    : self_(o.self_),
      to_(o.to_),
      correlation_(std::exchange(o.correlation_, 0)),
      deadline_(o.deadline_),
      failed_(std::move(o.failed_)) {}

template <class R>
request_awaiter<R>& request_awaiter<R>::operator=(request_awaiter&& o) noexcept {
  if (this != &o) {
    abandon();
    self_ = o.self_;
    to_ = o.to_;
    correlation_ = std::exchange(o.correlation_, 0);
    deadline_ = o.deadline_;
    failed_ = std::move(o.failed_);
  }
  return *this;
}

template <class R>
request_awaiter<R>::~request_awaiter() {
  abandon();
}

template <class R>
void request_awaiter<R>::abandon() noexcept {
  if (ws_.result) ws_.result->type->destroy(std::exchange(ws_.result, nullptr));
  if (correlation_) self_->node_->end_request(self_, std::exchange(correlation_, 0), to_.node);
}

template <class R>
bool request_awaiter<R>::await_ready() noexcept {
  if (failed_ || !correlation_ || self_->shutdown_) return true;
  ws_.result = self_->replies_.take(correlation_);
  return ws_.result != nullptr;
}

template <class R>
void request_awaiter<R>::await_suspend(std::coroutine_handle<> h) {
  node& n = *self_->node_;
  ws_.correlation = correlation_;
  self_->ws_ = &ws_;
  n.suspend(self_, h, detail::wait_kind::receive);
  if (deadline_ != clock::time_point::max()) n.timer_add(self_, deadline_);
}

template <class R>
received<R> request_awaiter<R>::await_resume() {
  self_->ws_ = nullptr;
  if (failed_) throw request_error(failed_->code, "request to " + to_.to_string() + " failed: " + failed_->detail);
  if (!correlation_) throw std::logic_error("the reply to a request was awaited twice");
  detail::envelope* got = std::exchange(ws_.result, nullptr);
  // Woken by the deadline or by shutdown, the reply may still have come.
  if (!got) got = self_->replies_.take(correlation_);
  self_->node_->end_request(self_, std::exchange(correlation_, 0), to_.node);
  if (!got) {
    if (self_->shutdown_) throw actor_shutdown();
    throw request_error(request_errc::timeout, "request to " + to_.to_string() + " timed out");
  }
  message m(got);
  if (auto* f = m.get_if<request_failed>())
    throw request_error(f->code, "request to " + to_.to_string() + " failed: " + f->detail);
  if (!m.is<R>())
    throw request_error(request_errc::unexpected_reply, "request to " + to_.to_string() + " got a reply of type " +
                                                            std::string(m.type_name()) + ", expected " +
                                                            std::string(message_traits<R>::name));
  return received<R>(std::move(m));
}

template <class R>
void blocking_awaiter<R>::await_suspend(std::coroutine_handle<> h) {
  self_.node_->start_blocking(&self_, h, job_);
}

inline bool sleep_awaiter::await_ready() const noexcept { return self_.shutdown_; }

inline void sleep_awaiter::await_suspend(std::coroutine_handle<> h) {
  node& n = *self_.node_;
  if (d_ <= duration::zero()) {
    n.suspend(&self_, h, detail::wait_kind::yield);
    n.make_ready(&self_);
  } else {
    n.suspend(&self_, h, detail::wait_kind::sleep);
    n.timer_add(&self_, deadline_after(n.now(), d_));
  }
}

inline void sleep_awaiter::await_resume() {
  if (self_.shutdown_) throw actor_shutdown();
}

}  // namespace troupe
