// Inline parts of actor and node: the message hot path.
#pragma once

#include <troupe/transport/frame.hpp>

#include <type_traits>

namespace troupe {

// --- node ----------------------------------------------------------------

template <class F, class... A>
actor_ref node::spawn(const spawn_options& opts, F&& fn, A&&... args) {
  using body = detail::actor_with_body<std::decay_t<F>, std::decay_t<A>...>;
  static_assert(std::is_invocable_r_v<task<void>, std::decay_t<F>&, actor&, std::decay_t<A>&...>,
                "an actor body is callable as fn(actor& self, args...) and returns troupe::task<void>");
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
void actor::send(actor_ref to, T&& msg) {
  if (node_->post_message(ref_, to, std::forward<T>(msg), 0, 0)) throttle_on_ = to;
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
  std::uint64_t correlation = node_->next_correlation();
  std::optional<request_failed> failed;
  if (to.node == node_->id_ && !node_->lookup(to.id))
    failed = request_failed{request_errc::no_such_actor, "no actor " + to.to_string()};
  else
    (void)node_->post_message(ref_, to, std::forward<T>(msg), correlation, frame_flags::request);
  return {*this, to, correlation, timeout, std::move(failed)};
}

template <class F, class... A>
  requires(!std::is_same_v<std::remove_cvref_t<F>, spawn_options>)
actor_ref actor::spawn(F&& fn, A&&... args) {
  return node_->spawn(spawn_options{}, std::forward<F>(fn), std::forward<A>(args)...);
}

template <class F, class... A>
actor_ref actor::spawn(const spawn_options& opts, F&& fn, A&&... args) {
  return node_->spawn(opts, std::forward<F>(fn), std::forward<A>(args)...);
}

// --- awaiters --------------------------------------------------------------

inline bool throttle_awaiter::await_ready() const noexcept {
  return !self_.throttle_on_ && !self_.shutdown_;
}

inline bool throttle_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  node& n = *self_.node_;
  if (self_.shutdown_) return false;
  actor_ref target = std::exchange(self_.throttle_on_, actor_ref{});
  n.block_on(&self_, target);
  if (!self_.blocked_on_ && !self_.blocked_on_link_) return false;
  n.suspend(&self_, h, detail::wait_kind::send);
  return true;
}

inline void throttle_awaiter::await_resume() {
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
  if constexpr (Timed) n.timer_add(&self_, n.now() + timeout_);
}

template <bool Timed, class... Ts>
auto receive_awaiter<Timed, Ts...>::await_resume() -> result_type {
  self_.ws_ = nullptr;
  if (ws_.result) return value_type(message(std::exchange(ws_.result, nullptr)));
  if (self_.shutdown_) throw actor_shutdown();
  if constexpr (Timed)
    return std::nullopt;
  else
    throw actor_shutdown();  // an untimed wait ends without a message only on shutdown
}

template <class R>
request_awaiter<R>::request_awaiter(actor& self, actor_ref to, std::uint64_t correlation, duration timeout,
                                    std::optional<request_failed> failed) noexcept
    : self_(self), to_(to), timeout_(timeout), failed_(std::move(failed)) {
  ws_.correlation = correlation;
}

template <class R>
void request_awaiter<R>::await_suspend(std::coroutine_handle<> h) {
  node& n = *self_.node_;
  self_.ws_ = &ws_;
  n.suspend(&self_, h, detail::wait_kind::receive);
  if (timeout_ != duration::max()) n.timer_add(&self_, n.now() + timeout_);
}

template <class R>
received<R> request_awaiter<R>::await_resume() {
  self_.ws_ = nullptr;
  if (failed_) throw request_error(failed_->code, "request to " + to_.to_string() + " failed: " + failed_->detail);
  if (!ws_.result) {
    if (self_.shutdown_) throw actor_shutdown();
    throw request_error(request_errc::timeout, "request to " + to_.to_string() + " timed out");
  }
  message m(std::exchange(ws_.result, nullptr));
  if (auto* f = m.get_if<request_failed>())
    throw request_error(f->code, "request to " + to_.to_string() + " failed: " + f->detail);
  if (!m.is<R>())
    throw request_error(request_errc::unexpected_reply, "request to " + to_.to_string() + " got a reply of type " +
                                                            std::string(m.type_name()) + ", expected " +
                                                            std::string(message_traits<R>::name));
  return received<R>(std::move(m));
}

inline void sleep_awaiter::await_suspend(std::coroutine_handle<> h) {
  node& n = *self_.node_;
  if (d_ <= duration::zero()) {
    n.suspend(&self_, h, detail::wait_kind::yield);
    n.make_ready(&self_);
  } else {
    n.suspend(&self_, h, detail::wait_kind::sleep);
    n.timer_add(&self_, n.now() + d_);
  }
}

inline void sleep_awaiter::await_resume() {
  if (self_.shutdown_) throw actor_shutdown();
}

}  // namespace troupe
