// troupe::node — one per OS process: a single-threaded Asio event loop that
// runs the process's actors, owns their table and mailboxes, schedules them,
// keeps their timers, and routes messages to other processes through the
// transports registered with it.
#pragma once

#include <troupe/actor.hpp>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace troupe {

class deterministic_node;
namespace detail {
class router;
class process_manager;
}
class transport;

struct node_options {
  /// This node's id; 0 picks a random one.
  node_id id = 0;
  /// The cluster it belongs to; 0 picks a random one (a new cluster).
  std::uint64_t cluster = 0;
  /// The cluster's root node (keeper of cluster-wide names); 0: this node.
  node_id root = 0;
  /// Frames longer than this are refused, in and out.
  frame_limits limits{};
  /// Default mailbox capacity (see spawn_options::mailbox_capacity).
  std::uint32_t mailbox_capacity = 1024;
  /// How long shutdown() waits for actors to finish before killing them.
  duration shutdown_grace = std::chrono::seconds(5);
  /// Threads for actor::run_blocking (started as needed); 0: one per core.
  unsigned blocking_threads = 0;
};

class node {
 public:
  explicit node(node_options opts = {});
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  node_id id() const noexcept { return id_; }
  std::uint64_t cluster_id() const noexcept { return cluster_; }
  node_id root_id() const noexcept { return root_; }
  asio::io_context& io_context() noexcept { return *io_; }
  const node_options& options() const noexcept { return opts_; }

  /// Starts an actor on this node (see actor::spawn).
  template <class F, class... A>
    requires(!std::is_same_v<std::remove_cvref_t<F>, spawn_options>)
  actor_ref spawn(F&& fn, A&&... args) {
    return spawn(spawn_options{}, std::forward<F>(fn), std::forward<A>(args)...);
  }
  template <class F, class... A>
  actor_ref spawn(const spawn_options& opts, F&& fn, A&&... args);

  /// Sends from outside any actor; the receiver sees no sender.
  template <sendable T>
  void send(actor_ref to, T&& msg) {
    (void)post_message(actor_ref{}, to, std::forward<T>(msg), 0, 0);
  }

  /// Runs the event loop until every actor has ended, stop() is called, or
  /// nothing is left that could ever wake an actor (a deadlock, reported by
  /// the return value false).
  bool run();
  /// Runs the event loop until shutdown() has let every actor finish, or
  /// stop(): a node that serves others (a worker) may have no actor at all.
  void serve();
  /// Makes run() return soon; actors stay as they are.
  void stop();
  /// Asks every actor to finish: each wait throws actor_shutdown. Actors
  /// still alive after options().shutdown_grace are killed.
  void shutdown();
  /// Ends an actor now; its monitors see `why`.
  void kill(actor_ref target, exit_reason why = exit_reason::killed, std::string detail = {});

  std::size_t actor_count() const noexcept { return live_; }
  bool alive(actor_ref r) const noexcept { return r.node == id_ && lookup(r.id) != nullptr; }
  std::optional<actor_ref> whereis(std::string_view name) const;
  clock::time_point now() const noexcept { return manual_ ? virtual_now_ : clock::now(); }
  /// The code of a process_exit an actor of this node threw, if any.
  std::optional<int> exit_code_requested() const noexcept { return exit_code_; }
  /// Messages that found no receiver (logged at debug level).
  std::uint64_t dead_letters() const noexcept { return dead_letters_; }

  /// Adds a transport (shared memory, TCP, or a user's own); started at once.
  void add_transport(std::unique_ptr<transport> t);
  /// Opens a link to `peer` now rather than at the first message.
  void connect(node_id peer);
  /// True while a link to `peer` is up.
  bool connected(node_id peer) const;

  /// Lets actors of this node start processes; `argv` is the command line
  /// a child is started with (the running binary's own).
  void enable_processes(std::vector<std::string> argv);
  detail::process_manager* processes() noexcept { return processes_.get(); }
  /// Environment variables every process started from this node gets
  /// (how to join the cluster over TCP, say).
  void set_child_environment(std::vector<std::pair<std::string, std::string>> env) { child_env_ = std::move(env); }
  const std::vector<std::pair<std::string, std::string>>& child_environment() const noexcept { return child_env_; }
  /// Makes `root` the keeper of cluster-wide names (after joining a cluster).
  void set_root(node_id root) noexcept { root_ = root; }
  detail::router* router() noexcept { return router_.get(); }

 private:
  friend class actor;
  friend class send_awaiter;
  friend class sleep_awaiter;
  template <bool, class...>
  friend class receive_awaiter;
  template <class>
  friend class request_awaiter;
  friend class deterministic_node;
  friend class detail::router;
  friend class detail::process_manager;
  friend class process;
  template <class>
  friend class remote_spawn_awaiter;
  friend class spawn_process_awaiter;
  friend class lookup_awaiter;
  template <class>
  friend class blocking_awaiter;
  friend class detail::blocking_pool;

  struct manual_tag {};
  node(manual_tag, node_options opts);

  struct slot {
    actor* a = nullptr;
    std::uint32_t generation = 1;
  };

  // actor table
  actor* lookup(actor_id id) const noexcept {
    std::uint32_t index = static_cast<std::uint32_t>(id);
    if (index == 0 || index >= slots_.size()) return nullptr;
    const slot& s = slots_[index];
    return s.generation == static_cast<std::uint32_t>(id >> 32) ? s.a : nullptr;
  }
  actor_ref start(actor* a, const spawn_options& opts);
  static void on_body_done(void* ctx) noexcept;

  // messaging
  template <class T>
  /// Delivers or forwards one message; true when the receiver is over its bound.
  bool post_message(actor_ref from, actor_ref to, T&& msg, std::uint64_t correlation, std::uint8_t flags);
  void enqueue(actor* a, detail::envelope* e) noexcept;
  detail::envelope* take(actor* a, const detail::wait_state& w) noexcept;
  void dead_letter(detail::envelope* e, actor_ref to, const char* why) noexcept;
  /// `a` took `e`, which came from another node: count it for credit.
  // A message from another node left `a`'s mailbox: count it toward the
  // credit owed to that node (inline for the usual case: the sender's node
  // is the one counted last).
  void taken(actor* a, const detail::envelope* e) noexcept {
    if (!a->owed_.empty()) {
      detail::credit_owed& o = a->owed_.back();
      if (o.from == e->sender.node) {
        ++o.messages;
        o.bytes += e->wire_size;
        if (o.messages >= detail::credit_batch_messages || o.bytes >= detail::credit_batch_bytes) pay(a, o);
        return;
      }
    }
    taken_from_another(a, e);
  }
  void taken_from_another(actor* a, const detail::envelope* e) noexcept;
  void pay(actor* a, detail::credit_owed& o) noexcept;
  /// Hands back all the credit `a` owes (it ends).
  void pay_all_credit(actor* a) noexcept;
  bool send_remote(actor_ref from, actor_ref to, const message_type& t, const void* value,
                           std::uint64_t correlation, std::uint8_t flags);
  void answer_failed_request(actor_ref requester, std::uint64_t correlation, actor_ref target, request_errc code,
                             std::string detail);
  void answered(actor* a, actor_ref requester, std::uint64_t correlation) noexcept;
  void monitor(actor* watcher, actor_ref target);
  void demonitor(actor* watcher, actor_ref target);
  bool register_name(actor* a, std::string name);

  // scheduling
  void make_ready(actor* a) noexcept;
  void unlink_ready(actor* a) noexcept;
  // Keeps a just-started actor off the ready queue until release() (a
  // process's main actor, until its node has reached the cluster).
  void hold(actor* a) noexcept {
    if (a->ready_) unlink_ready(a);
  }
  void release(actor* a) noexcept { make_ready(a); }
  void wake(actor* a) noexcept;
  void post_drain();
  void drain();
  void run_ready();
  void check_deadlock();
  /// Re-checks for a deadlock after something that could have been the
  /// last hope of a waiting actor went away (a peer, a child).
  void idle_check() {
    if (!ready_head_) check_deadlock();
  }
  bool run_one_ready();
  void suspend(actor* a, std::coroutine_handle<> h, detail::wait_kind kind) noexcept {
    a->resume_ = h;
    a->wait_ = kind;
  }
  void block_on(actor* self, actor_ref target);
  /// Parks an actor until unpark() with the returned token, or `deadline`.
  std::uint32_t park(actor* a, std::coroutine_handle<> h, clock::time_point deadline);
  void unpark(actor_ref r, std::uint32_t token) noexcept;
  /// run_blocking: hands the job to the pool; the actor waits until
  /// end_blocking (posted by the pool thread).
  void start_blocking(actor* a, std::coroutine_handle<> h, std::shared_ptr<detail::blocking_job> job);
  void end_blocking(actor_ref r, std::uint32_t token) noexcept;
  /// Sends a control message to node `to` (handled by its router).
  template <class T>
  void post_system(actor_ref from, node_id to, const T& msg, std::uint64_t correlation, std::uint8_t flags);
  void name_registered(actor_ref who, const std::string& name);
  void names_of_node_gone(node_id n);
  void release_blocked(actor* a) noexcept;
  void unblock(actor* a) noexcept;

  // ending actors
  void reap();
  void finish(actor* a, exit_reason why, std::string detail);
  void interrupt(actor* a) noexcept;

  // timers: a binary min-heap of waiting actors ordered by deadline
  void timer_add(actor* a, clock::time_point deadline);
  void timer_remove(actor* a) noexcept;
  void timer_sift_up(std::size_t i) noexcept;
  void timer_sift_down(std::size_t i) noexcept;
  void timer_fire_expired();
  void timer_arm();
  void advance_to(clock::time_point t);

  std::uint64_t next_correlation() noexcept { return ++correlation_; }
  /// A new request of `a`: its correlation id, with a place for its reply.
  std::uint64_t begin_request(actor* a) {
    std::uint64_t c = next_correlation();
    a->replies_.add(c);
    return c;
  }
  /// The request is over (answered, timed out or abandoned).
  void end_request(actor* a, std::uint64_t correlation, node_id target) noexcept;

  node_options opts_;
  node_id id_;
  std::uint64_t cluster_;
  node_id root_;
  std::unique_ptr<asio::io_context> io_;
  bool manual_ = false;
  clock::time_point virtual_now_{};

  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t live_ = 0;
  actor* current_ = nullptr;
  std::vector<actor*> finished_;

  actor* ready_head_ = nullptr;
  actor* ready_tail_ = nullptr;
  bool drain_posted_ = false;

  std::vector<actor*> timers_;
  asio::steady_timer timer_;
  clock::time_point armed_for_ = clock::time_point::max();
  std::uint64_t timer_generation_ = 0;

  bool stopping_when_idle_ = false;
  bool stop_called_ = false;
  bool deadlocked_ = false;
  std::size_t parked_ = 0;  // actors waiting on something outside the node (process, ...)
  std::optional<int> exit_code_;
  bool shutting_down_ = false;
  asio::steady_timer grace_timer_;

  std::unordered_map<std::string, actor_ref> names_;
  std::unordered_map<actor_id, std::string> name_of_;
  std::uint64_t correlation_ = 0;
  std::uint64_t dead_letters_ = 0;
  // How the last actors to end ended: a monitor placed just after its
  // target's end (any actor started in another process and monitored once
  // its address is back can be that quick) reports the real reason, not
  // "no such actor".
  struct recent_end {
    actor_id id = 0;
    exit_reason why = exit_reason::normal;
    std::string detail;
  };
  std::vector<recent_end> recent_ends_ = std::vector<recent_end>(256);
  std::size_t next_end_ = 0;
  down down_of_missing(actor_ref target) const;

  std::unordered_map<std::string, actor_ref> global_names_;
  std::vector<std::pair<std::string, std::string>> child_env_;  // on the root: names of every node
  std::unique_ptr<detail::router> router_;
  std::unique_ptr<detail::process_manager> processes_;
  std::unique_ptr<detail::blocking_pool> blocking_;
};

}  // namespace troupe

#include <troupe/impl/node.hpp>
