#include <troupe/log.hpp>
#include <troupe/node.hpp>
#include <troupe/detail/process_manager.hpp>
#include <troupe/detail/router.hpp>
#include <troupe/detail/system_messages.hpp>
#include <troupe/transport/transport.hpp>

#include <asio/post.hpp>
#include <cassert>
#include <exception>
#include <random>
#include <thread>

namespace troupe {
namespace {

constexpr std::size_t no_timer = static_cast<std::size_t>(-1);
constexpr int drain_budget = 1024;  // resumes per turn before other handlers get theirs

node_id random_node_id() {
  std::random_device rd;
  node_id id = 0;
  while (id == 0) id = (static_cast<node_id>(rd()) << 32) ^ rd();
  return id;
}

}  // namespace

node::node(node_options opts)
    : opts_(opts),
      id_(opts.id ? opts.id : random_node_id()),
      cluster_(opts.cluster ? opts.cluster : random_node_id()),
      root_(opts.root ? opts.root : id_),
      io_(std::make_unique<asio::io_context>(1)),
      timer_(*io_),
      grace_timer_(*io_) {
  slots_.resize(1);  // index 0 is never used: actor id 0 means "none"
}

node::node(manual_tag, node_options opts) : node(opts) {
  manual_ = true;
  virtual_now_ = clock::time_point{} + std::chrono::hours(1);
}

node::~node() {
  // Destroy what is left without running it: frames first, then actors.
  shutting_down_ = true;
  finished_.clear();
  for (std::size_t i = 1; i < slots_.size(); ++i)
    if (actor* a = slots_[i].a) finish(a, exit_reason::shutdown, "node destroyed");
  if (router_) router_->stop();
  blocking_.reset();
  processes_.reset();
  router_.reset();
}

// --- spawning and ending ----------------------------------------------------

actor_ref node::start(actor* a, const spawn_options& opts) {
  std::uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  slot& s = slots_[index];
  s.a = a;
  a->ref_ = actor_ref{id_, (static_cast<actor_id>(s.generation) << 32) | index};
  a->mbox_capacity_ = opts.mailbox_capacity ? opts.mailbox_capacity : opts_.mailbox_capacity;
  ++live_;
  try {
    task<void> body = a->start_body();
    a->body_ = body.release();
  } catch (...) {
    // the body's arguments could not be set up: the actor never ran
    s.a = nullptr;
    ++s.generation;
    free_slots_.push_back(index);
    --live_;
    delete a;
    throw;
  }
  a->body_.promise().on_done = &node::on_body_done;
  a->body_.promise().on_done_ctx = a;
  if (!opts.name.empty() && !register_name(a, std::string(opts.name))) {
    std::string name(opts.name);
    finish(a, exit_reason::error, "name \"" + name + "\" is taken");
    throw std::invalid_argument("cannot spawn actor: name \"" + name + "\" is already registered");
  }
  a->resume_ = a->body_;
  a->wait_ = detail::wait_kind::start;
  if (shutting_down_) a->shutdown_ = true;
  make_ready(a);
  return a->ref_;
}

void node::on_body_done(void* ctx) noexcept {
  actor* a = static_cast<actor*>(ctx);
  a->node_->finished_.push_back(a);
}

void node::reap() {
  while (!finished_.empty()) {
    actor* a = finished_.back();
    finished_.pop_back();
    if (a->finished_) continue;
    std::exception_ptr err = a->body_.promise().error;
    if (!err) {
      finish(a, exit_reason::normal, {});
      continue;
    }
    try {
      std::rethrow_exception(err);
    } catch (const actor_shutdown&) {
      finish(a, exit_reason::shutdown, {});
    } catch (const process_exit& e) {
      exit_code_ = e.code;
      finish(a, exit_reason::normal, "process_exit(" + std::to_string(e.code) + ")");
    } catch (const std::exception& e) {
      TROUPE_LOG(warn) << "actor " << a->ref_ << " ended by an exception: " << e.what();
      finish(a, exit_reason::error, e.what());
    } catch (...) {
      TROUPE_LOG(warn) << "actor " << a->ref_ << " ended by an exception of unknown type";
      finish(a, exit_reason::error, "unknown exception");
    }
  }
}

void node::finish(actor* a, exit_reason why, std::string detail) {
  assert(a != current_ || a->body_.done());
  a->finished_ = true;
  actor_ref ref = a->ref_;
  std::uint32_t index = static_cast<std::uint32_t>(ref.id);

  // Detach from scheduling.
  if (a->ready_) unlink_ready(a);
  if (a->wait_ == detail::wait_kind::external || a->wait_ == detail::wait_kind::blocking) --parked_;
  // Work run_blocking started may use what the actor's frame holds: it
  // must be over before the frame goes.
  if (a->blocking_) {
    while (!a->blocking_->done.load(std::memory_order_acquire)) std::this_thread::sleep_for(std::chrono::microseconds(100));
    a->blocking_ = nullptr;
  }
  a->wait_ = detail::wait_kind::none;
  if (a->timer_index_ != no_timer) timer_remove(a);
  unblock(a);
  if (a->ws_) {
    if (a->ws_->result) a->ws_->result->type->destroy(std::exchange(a->ws_->result, nullptr));
    a->ws_ = nullptr;
  }
  a->replies_.clear();

  // From now on sends to it are dead letters.
  slots_[index].a = nullptr;
  ++slots_[index].generation;
  free_slots_.push_back(index);
  --live_;
  if (a->named_) {
    auto it = name_of_.find(ref.id);
    if (it != name_of_.end()) {
      if (root_ != id_ && router_ && !shutting_down_)
        router_->send_system(ref, root_, detail::sys::unregister_name{it->second, ref});
      names_.erase(it->second);
      name_of_.erase(it);
    }
  }
  release_blocked(a);

  // Requests still in the mailbox, and requests taken but not answered,
  // fail at their senders rather than time out.
  while (detail::envelope* e = a->mbox_head_) {
    a->mbox_head_ = e->next;
    if (e->flags & detail::envelope_credited) taken(a, e);
    if (e->flags & frame_flags::request)
      answer_failed_request(e->sender, e->correlation, ref, request_errc::actor_down,
                            std::string("actor ended (") + to_string(why) + ") before answering");
    e->type->destroy(e);
  }
  a->mbox_tail_ = nullptr;
  a->mbox_size_ = 0;
  pay_all_credit(a);  // its senders may send elsewhere now
  std::vector<detail::watcher> watchers = std::move(a->watchers_);
  std::string text = detail.empty() ? std::string(to_string(why)) : std::string(to_string(why)) + ": " + detail;
  for (const detail::watcher& w : watchers) {
    if (w.correlation)
      answer_failed_request(w.who, w.correlation, ref, request_errc::actor_down,
                            "actor ended (" + text + ") before answering");
    else
      (void)post_message(ref, w.who, down{ref, why, detail}, 0, 0);
  }
  if (router_) router_->actor_ended(ref, why, detail);
  recent_ends_[next_end_] = recent_end{ref.id, why, detail};
  next_end_ = (next_end_ + 1) % recent_ends_.size();

  if (a->body_) a->body_.destroy();
  a->body_ = {};
  delete a;

  if (live_ == 0 && stopping_when_idle_) stop();
}

void node::kill(actor_ref target, exit_reason why, std::string detail) {
  if (target.node != id_) {
    if (router_) router_->kill_remote(target, why);
    return;
  }
  actor* a = lookup(target.id);
  if (!a || a->finished_) return;
  if (a == current_)
    throw std::logic_error("an actor cannot kill itself; return from its body (or throw) instead");
  finish(a, why, std::move(detail));
}

void node::interrupt(actor* a) noexcept {
  a->shutdown_ = true;
  switch (a->wait_) {
    case detail::wait_kind::receive:
    case detail::wait_kind::sleep:
    case detail::wait_kind::external:
      wake(a);
      break;
    case detail::wait_kind::send:
      unblock(a);
      make_ready(a);
      break;
    default:
      break;  // running, ready, starting or waiting on something external
  }
}

void node::shutdown() {
  stopping_when_idle_ = true;
  if (live_ == 0 && !manual_) stop();
  if (shutting_down_) return;
  shutting_down_ = true;
  for (std::size_t i = 1; i < slots_.size(); ++i)
    if (actor* a = slots_[i].a) interrupt(a);
  if (manual_ || live_ == 0) return;
  grace_timer_.expires_after(opts_.shutdown_grace);
  grace_timer_.async_wait([this](std::error_code ec) {
    if (ec) return;
    for (std::size_t i = 1; i < slots_.size(); ++i)
      if (actor* a = slots_[i].a) {
        TROUPE_LOG(warn) << "actor " << a->ref_ << " did not finish within the shutdown grace period; killed";
        finish(a, exit_reason::killed, "did not finish after shutdown");
      }
  });
}

// --- messaging ----------------------------------------------------------------

void node::enqueue(actor* a, detail::envelope* e) noexcept {
  if (a->wait_ == detail::wait_kind::receive) {
    const detail::wait_state& w = *a->ws_;
    bool match;
    if (w.correlation)
      match = (e->flags & frame_flags::response) && e->correlation == w.correlation;
    else if (e->flags & frame_flags::response)
      match = false;
    else if (w.type_count == 0)
      match = true;
    else {
      match = false;
      for (std::size_t i = 0; i < w.type_count; ++i)
        if (w.types[i] == e->type->id) match = true;
    }
    if (match) {
      if (e->flags & frame_flags::request) a->watchers_.push_back({e->sender, e->correlation});
      if (e->flags & detail::envelope_credited) taken(a, e);
      a->ws_->result = e;
      a->wait_ = detail::wait_kind::none;  // handed over: later messages queue
      wake(a);
      return;
    }
  }
  if (e->flags & frame_flags::response) {
    // Kept until its await takes it, if the request is still outstanding.
    if (a->replies_.keep(e->correlation, e)) return;
    // Nobody waits for it any more (timed out, or its awaiter is gone): drop.
    TROUPE_LOG(debug) << "late reply of type " << e->type->name << " to " << a->ref_ << " dropped";
    e->type->destroy(e);
    return;
  }
  e->next = nullptr;
  if (a->mbox_tail_)
    a->mbox_tail_->next = e;
  else
    a->mbox_head_ = e;
  a->mbox_tail_ = e;
  ++a->mbox_size_;
}

detail::envelope* node::take(actor* a, const detail::wait_state& w) noexcept {
  if (w.correlation) return nullptr;  // replies are handed over on arrival, never queued
  detail::envelope* prev = nullptr;
  for (detail::envelope* e = a->mbox_head_; e; prev = e, e = e->next) {
    bool match = w.type_count == 0;
    for (std::size_t i = 0; i < w.type_count && !match; ++i) match = w.types[i] == e->type->id;
    if (!match) continue;
    if (prev)
      prev->next = e->next;
    else
      a->mbox_head_ = e->next;
    if (a->mbox_tail_ == e) a->mbox_tail_ = prev;
    e->next = nullptr;
    --a->mbox_size_;
    if (a->blocked_head_ && a->mbox_size_ <= a->mbox_capacity_ / 2) release_blocked(a);
    if (e->flags & frame_flags::request) a->watchers_.push_back({e->sender, e->correlation});
    if (e->flags & detail::envelope_credited) taken(a, e);
    return e;
  }
  return nullptr;
}

// --- credit for senders on other nodes (see detail/flow_control.hpp) ---------

void node::taken_from_another(actor* a, const detail::envelope* e) noexcept {
  detail::credit_owed* o = nullptr;
  for (auto& x : a->owed_)
    if (x.from == e->sender.node) o = &x;
  if (o) {
    std::swap(*o, a->owed_.back());  // the next message is likely from it too
    o = &a->owed_.back();
  } else {
    try {
      o = &a->owed_.emplace_back();
    } catch (...) {
      return;  // out of memory: that sender's window shrinks by one
    }
    o->from = e->sender.node;
  }
  ++o->messages;
  o->bytes += e->wire_size;
  // (Credit is not held back while the mailbox is over its capacity: an
  // actor taking only some types would then starve their senders.)
  if (o->messages < detail::credit_batch_messages && o->bytes < detail::credit_batch_bytes) return;
  pay(a, *o);
}

void node::pay(actor* a, detail::credit_owed& o) noexcept {
  std::uint32_t m = std::exchange(o.messages, 0);
  std::uint64_t b = std::exchange(o.bytes, 0);
  if (!m || !router_) return;
  try {
    router_->grant(o.from, a->ref_.id, m, b);
  } catch (const std::exception& ex) {
    TROUPE_LOG(warn) << "cannot hand credit back to node " << node_id_string(o.from) << ": " << ex.what();
  }
}

void node::pay_all_credit(actor* a) noexcept {
  for (auto& o : a->owed_) pay(a, o);
}

void node::answered(actor* a, actor_ref requester, std::uint64_t correlation) noexcept {
  auto& w = a->watchers_;
  for (std::size_t i = w.size(); i-- > 0;)
    if (w[i].correlation == correlation && w[i].who == requester) {
      w[i] = w.back();
      w.pop_back();
      return;
    }
}

void node::end_request(actor* a, std::uint64_t correlation, node_id target) noexcept {
  a->replies_.remove(correlation);
  if (target != id_ && router_) router_->forget_request(correlation);
}

void node::answer_failed_request(actor_ref requester, std::uint64_t correlation, actor_ref target,
                                 request_errc code, std::string detail) {
  if (!requester) return;
  // Sent as if from the target, so the requester sees who failed it.
  if (requester.node == id_) {
    actor* r = lookup(requester.id);
    if (!r) return;
    auto* e = new detail::typed_envelope<request_failed>(std::in_place, request_failed{code, std::move(detail)});
    e->type = &message_type_of<request_failed>();
    e->sender = target;
    e->correlation = correlation;
    e->flags = frame_flags::response;
    enqueue(r, e);
  } else if (router_) {
    router_->send_as(target, requester, request_failed{code, std::move(detail)}, correlation, frame_flags::response);
  }
}

void node::dead_letter(detail::envelope* e, actor_ref to, const char* why) noexcept {
  ++dead_letters_;
  TROUPE_LOG(debug) << "dead letter: " << e->type->name << " from " << e->sender << " to " << to << " (" << why
                    << ")";
  if (e->flags & frame_flags::request)
    answer_failed_request(e->sender, e->correlation, to, request_errc::no_such_actor,
                          std::string("no actor ") + to.to_string() + " (" + why + ")");
  e->type->destroy(e);
}

bool node::send_remote(actor_ref from, actor_ref to, const message_type& t, const void* value,
                               std::uint64_t correlation, std::uint8_t flags) {
  if (!router_ || !to) {
    ++dead_letters_;
    TROUPE_LOG(debug) << "dead letter: " << t.name << " to " << to << " (no route to its node)";
    if (flags & frame_flags::request)
      answer_failed_request(from, correlation, to, request_errc::unreachable,
                            "no route to node " + node_id_string(to.node));
    return false;
  }
  return router_->send(from, to, t, value, correlation, flags);
}

void node::monitor(actor* watcher, actor_ref target) {
  if (target.node != id_) {
    if (router_)
      router_->monitor(watcher->ref_, target);
    else
      (void)post_message(target, watcher->ref_, down{target, exit_reason::unreachable, "no route to its node"}, 0, 0);
    return;
  }
  actor* t = lookup(target.id);
  if (!t) {
    auto* e = new detail::typed_envelope<down>(std::in_place, down_of_missing(target));
    e->type = &message_type_of<down>();
    e->sender = target;
    enqueue(watcher, e);
    return;
  }
  t->watchers_.push_back({watcher->ref_, 0});
}

down node::down_of_missing(actor_ref target) const {
  for (const recent_end& r : recent_ends_)
    if (r.id == target.id && r.id != 0) return down{target, r.why, r.detail};
  return down{target, exit_reason::no_such_actor, {}};
}

void node::demonitor(actor* watcher, actor_ref target) {
  if (target.node != id_) {
    if (router_) router_->demonitor(watcher->ref_, target);
    return;
  }
  if (actor* t = lookup(target.id)) {
    auto& w = t->watchers_;
    for (std::size_t i = 0; i < w.size(); ++i)
      if (w[i].correlation == 0 && w[i].who == watcher->ref_) {
        w.erase(w.begin() + static_cast<std::ptrdiff_t>(i));
        return;
      }
  }
}

bool node::register_name(actor* a, std::string name) {
  if (name.empty()) throw std::invalid_argument("actor names must not be empty");
  auto [it, inserted] = names_.emplace(name, a->ref_);
  if (!inserted) return it->second == a->ref_;
  auto old = name_of_.find(a->ref_.id);
  if (old != name_of_.end()) names_.erase(old->second);  // one name per actor: the newest
  if (root_ != id_ && router_) router_->send_system(a->ref_, root_, detail::sys::register_name{name, a->ref_});
  name_of_[a->ref_.id] = std::move(name);
  a->named_ = true;
  return true;
}

void node::name_registered(actor_ref who, const std::string& name) {
  if (who.node == id_) return;
  auto [it, inserted] = global_names_.emplace(name, who);
  if (!inserted && it->second != who) {
    if (router_ && router_->connected(it->second.node)) {
      TROUPE_LOG(warn) << "name \"" << name << "\" is taken by " << it->second << "; " << who
                       << " is found on its own node only";
      return;
    }
    it->second = who;  // the old holder's node is gone
  }
}

void node::names_of_node_gone(node_id n) {
  std::erase_if(global_names_, [n](const auto& kv) { return kv.second.node == n; });
}

std::optional<actor_ref> node::whereis(std::string_view name) const {
  auto it = names_.find(std::string(name));
  if (it != names_.end()) return it->second;
  auto g = global_names_.find(std::string(name));
  if (g != global_names_.end()) return g->second;
  return std::nullopt;
}

// --- backpressure ---------------------------------------------------------------

void node::block_on(actor* self, actor_ref target) {
  if (target.node == id_) {
    actor* t = lookup(target.id);
    if (!t || t == self || t->mbox_size_ <= t->mbox_capacity_) return;
    self->blocked_on_ = t;
    self->blocked_next_ = t->blocked_head_;
    t->blocked_head_ = self;
  } else if (router_) {
    router_->block_on(self, target);
  }
}

void node::release_blocked(actor* a) noexcept {
  actor* s = std::exchange(a->blocked_head_, nullptr);
  while (s) {
    actor* next = std::exchange(s->blocked_next_, nullptr);
    s->blocked_on_ = nullptr;
    if (s->wait_ == detail::wait_kind::send) make_ready(s);
    s = next;
  }
}

void node::unblock(actor* a) noexcept {
  if (actor* t = a->blocked_on_) {
    actor** p = &t->blocked_head_;
    while (*p && *p != a) p = &(*p)->blocked_next_;
    if (*p) *p = a->blocked_next_;
    a->blocked_on_ = nullptr;
    a->blocked_next_ = nullptr;
  }
  if (a->blocked_on_list_ && router_) router_->unblock(a);
}

// --- scheduling --------------------------------------------------------------------

void node::make_ready(actor* a) noexcept {
  if (a->ready_) return;
  a->ready_ = true;
  a->ready_next_ = nullptr;
  a->ready_prev_ = ready_tail_;
  if (ready_tail_)
    ready_tail_->ready_next_ = a;
  else
    ready_head_ = a;
  ready_tail_ = a;
  if (!drain_posted_ && !manual_) post_drain();
}

void node::unlink_ready(actor* a) noexcept {
  if (a->ready_prev_)
    a->ready_prev_->ready_next_ = a->ready_next_;
  else
    ready_head_ = a->ready_next_;
  if (a->ready_next_)
    a->ready_next_->ready_prev_ = a->ready_prev_;
  else
    ready_tail_ = a->ready_prev_;
  a->ready_prev_ = a->ready_next_ = nullptr;
  a->ready_ = false;
}

void node::wake(actor* a) noexcept {
  if (a->timer_index_ != no_timer) timer_remove(a);
  make_ready(a);
}

void node::post_drain() {
  drain_posted_ = true;
  asio::post(*io_, [this] { drain(); });
}

void node::drain() {
  drain_posted_ = false;
  for (int budget = drain_budget; budget > 0 && ready_head_; --budget) run_one_ready();
  if (router_) router_->flush_transports();
  if (ready_head_ && !drain_posted_)
    post_drain();
  else if (!ready_head_)
    check_deadlock();
}

void node::run_ready() {
  for (int budget = drain_budget; budget > 0 && ready_head_; --budget) run_one_ready();
  if (router_) router_->flush_transports();
}

// Every actor waits for a message and nothing could ever send one: no
// timer, no wait on a process, no peer, no transport that expects one.
void node::check_deadlock() {
  // (never while an actor runs: it may be about to act on what just happened)
  if (!stopping_when_idle_ || live_ == 0 || !timers_.empty() || parked_ > 0 || shutting_down_ || current_) return;
  if (router_ && router_->may_receive()) return;
  if (processes_ && processes_->alive() > 0) return;
  deadlocked_ = true;
  stop();
}

bool node::run_one_ready() {
  actor* a = ready_head_;
  if (!a) return false;
  if (router_) router_->flush_transports();
  unlink_ready(a);
  if (a->wait_ == detail::wait_kind::external) --parked_;
  a->wait_ = detail::wait_kind::none;
  current_ = a;
  a->resume_.resume();
  current_ = nullptr;
  if (!finished_.empty()) reap();
  return true;
}

std::uint32_t node::park(actor* a, std::coroutine_handle<> h, clock::time_point deadline) {
  suspend(a, h, detail::wait_kind::external);
  ++parked_;
  if (deadline != clock::time_point::max()) timer_add(a, deadline);
  return ++a->park_token_;
}

void node::unpark(actor_ref r, std::uint32_t token) noexcept {
  if (r.node != id_) return;
  actor* a = lookup(r.id);
  if (!a || a->wait_ != detail::wait_kind::external || a->park_token_ != token) return;
  --parked_;
  a->wait_ = detail::wait_kind::none;
  wake(a);
}

void node::start_blocking(actor* a, std::coroutine_handle<> h, std::shared_ptr<detail::blocking_job> job) {
  if (!blocking_) blocking_ = std::make_unique<detail::blocking_pool>(*this, opts_.blocking_threads);
  job->who = a->ref_;
  job->token = ++a->park_token_;
  detail::blocking_job* j = job.get();
  blocking_->submit(std::move(job));  // (may throw: nothing is changed yet)
  suspend(a, h, detail::wait_kind::blocking);
  ++parked_;
  a->blocking_ = j;
}

void node::end_blocking(actor_ref r, std::uint32_t token) noexcept {
  actor* a = lookup(r.id);
  if (!a || a->wait_ != detail::wait_kind::blocking || a->park_token_ != token) return;
  --parked_;
  a->blocking_ = nullptr;
  a->wait_ = detail::wait_kind::none;
  make_ready(a);
}

void node::serve() {
  stop_called_ = false;
  io_->restart();
  io_->run();
}

void node::connect(node_id peer) {
  if (!router_) throw std::logic_error("node::connect: the node has no transport");
  router_->connect(peer);
}

bool node::connected(node_id peer) const { return router_ && router_->connected(peer); }

void node::enable_processes(std::vector<std::string> argv) {
  if (!router_) router_ = std::make_unique<detail::router>(*this);
  processes_ = std::make_unique<detail::process_manager>(*this, std::move(argv));
  router_->set_down_explainer([this](node_id peer, const std::string& reason) {
    return processes_ && processes_->explain_down(peer, reason);
  });
}

bool node::run() {
  if (live_ == 0) return true;
  stopping_when_idle_ = true;
  stop_called_ = false;
  deadlocked_ = false;
  io_->restart();
  io_->run();
  stopping_when_idle_ = false;
  return live_ == 0 || (stop_called_ && !deadlocked_);
}

void node::stop() {
  stop_called_ = true;
  io_->stop();
}

void node::add_transport(std::unique_ptr<transport> t) {
  if (!router_) router_ = std::make_unique<detail::router>(*this);
  router_->add_transport(std::move(t));
}

// --- timers --------------------------------------------------------------------------

void node::timer_add(actor* a, clock::time_point deadline) {
  if (a->timer_index_ != no_timer) timer_remove(a);
  if (deadline == clock::time_point::max()) return;  // no deadline: the wait is untimed
  a->deadline_ = deadline;
  a->timer_index_ = timers_.size();
  timers_.push_back(a);
  timer_sift_up(a->timer_index_);
  if (!manual_ && timers_.front() == a) timer_arm();
}

void node::timer_remove(actor* a) noexcept {
  std::size_t i = a->timer_index_;
  a->timer_index_ = no_timer;
  actor* last = timers_.back();
  timers_.pop_back();
  if (last == a) return;
  timers_[i] = last;
  last->timer_index_ = i;
  timer_sift_up(i);
  timer_sift_down(last->timer_index_);
}

void node::timer_sift_up(std::size_t i) noexcept {
  actor* a = timers_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!(a->deadline_ < timers_[parent]->deadline_)) break;
    timers_[i] = timers_[parent];
    timers_[i]->timer_index_ = i;
    i = parent;
  }
  timers_[i] = a;
  a->timer_index_ = i;
}

void node::timer_sift_down(std::size_t i) noexcept {
  actor* a = timers_[i];
  std::size_t n = timers_.size();
  for (;;) {
    std::size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && timers_[c + 1]->deadline_ < timers_[c]->deadline_) ++c;
    if (!(timers_[c]->deadline_ < a->deadline_)) break;
    timers_[i] = timers_[c];
    timers_[i]->timer_index_ = i;
    i = c;
  }
  timers_[i] = a;
  a->timer_index_ = i;
}

void node::timer_fire_expired() {
  clock::time_point t = now();
  while (!timers_.empty() && timers_.front()->deadline_ <= t) {
    actor* a = timers_.front();
    timer_remove(a);
    if (a->wait_ == detail::wait_kind::external) --parked_;
    a->wait_ = detail::wait_kind::none;
    make_ready(a);
  }
}

void node::timer_arm() {
  if (timers_.empty()) return;
  clock::time_point next = timers_.front()->deadline_;
  if (next >= armed_for_) return;  // the armed wait fires first and re-arms
  armed_for_ = next;
  std::uint64_t generation = ++timer_generation_;
  timer_.expires_at(next);
  timer_.async_wait([this, generation](std::error_code ec) {
    if (ec || generation != timer_generation_) return;
    armed_for_ = clock::time_point::max();
    timer_fire_expired();
    timer_arm();
  });
}

void node::advance_to(clock::time_point t) {
  if (t > virtual_now_) virtual_now_ = t;
  timer_fire_expired();
}

}  // namespace troupe
