// troupe::deterministic_node — drive a node by hand in unit tests:
// run one ready actor at a time, look into mailboxes, and move a virtual
// clock so that timeouts fire exactly when the test says. Nothing runs
// unless the test asks, so actor logic can be tested step by step.
#pragma once

#include <troupe/node.hpp>

#include <optional>

namespace troupe {

class deterministic_node {
 public:
  explicit deterministic_node(node_options opts = {}) : node_(node::manual_tag{}, opts) {}

  troupe::node& node() noexcept { return node_; }
  node_id id() const noexcept { return node_.id(); }

  template <class F, class... A>
    requires(!std::is_same_v<std::remove_cvref_t<F>, spawn_options>)
  actor_ref spawn(F&& fn, A&&... args) {
    return node_.spawn(std::forward<F>(fn), std::forward<A>(args)...);
  }
  template <class F, class... A>
  actor_ref spawn(const spawn_options& o, F&& fn, A&&... args) {
    return node_.spawn(o, std::forward<F>(fn), std::forward<A>(args)...);
  }

  /// Sends from outside any actor.
  template <sendable T>
  void send(actor_ref to, T&& msg) {
    node_.send(to, std::forward<T>(msg));
  }

  /// Resumes the next ready actor until it waits again; false if none was ready.
  bool run_once() { return node_.run_one_ready(); }
  /// Runs ready actors until none is ready; returns how many resumes that took.
  std::size_t run() {
    std::size_t n = 0;
    while (node_.run_one_ready()) ++n;
    return n;
  }
  /// The actor that run_once() would resume next.
  std::optional<actor_ref> next_ready() const {
    if (!node_.ready_head_) return std::nullopt;
    return node_.ready_head_->ref();
  }

  /// Moves the virtual clock forward; actors whose timeouts expire become
  /// ready (run them with run_once or run).
  void advance_time(duration d) { node_.advance_to(node_.virtual_now_ + d); }
  clock::time_point now() const noexcept { return node_.now(); }
  /// When the next timeout is due, if any actor has one.
  std::optional<clock::time_point> next_timeout() const {
    if (node_.timers_.empty()) return std::nullopt;
    return node_.timers_.front()->deadline_;
  }

  /// Messages waiting in an actor's mailbox (0 if it does not exist).
  std::size_t mailbox_size(actor_ref r) const {
    actor* a = node_.lookup(r.id);
    return a ? a->mailbox_size() : 0;
  }
  /// The next message in an actor's mailbox, if it is a T (not removed).
  template <class T>
  const T* peek(actor_ref r) const {
    actor* a = node_.lookup(r.id);
    if (!a || !a->mbox_head_ || a->mbox_head_->type->id != message_type_of<T>().id) return nullptr;
    return &static_cast<detail::typed_envelope<T>*>(a->mbox_head_)->value;
  }
  bool alive(actor_ref r) const { return node_.alive(r); }
  std::size_t actor_count() const noexcept { return node_.actor_count(); }

 private:
  troupe::node node_;
};

}  // namespace troupe
