#include <troupe/detail/process_manager.hpp>
#include <troupe/actor_registry.hpp>
#include <troupe/detail/router.hpp>
#include <troupe/detail/system_messages.hpp>
#include <troupe/log.hpp>
#include <troupe/node.hpp>

#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <random>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace troupe::detail {
namespace {

std::string hex64(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::uint64_t parse_hex(const char* s) { return s ? std::strtoull(s, nullptr, 16) : 0; }

std::string describe_status(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return "exited with code " + std::to_string(info.si_status);
  const char* abbrev = sigabbrev_np(info.si_status);
  std::string sig = "signal " + std::to_string(info.si_status) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  return std::string(info.si_code == CLD_DUMPED ? "killed by " + sig + ", core dumped" : "killed by " + sig);
}

// glibc 2.36 declares pidfd_open without C linkage; call the kernel directly.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

node_id random_id() {
  std::random_device rd;
  node_id id = 0;
  while (id == 0) id = (static_cast<node_id>(rd()) << 32) ^ rd();
  return id;
}

}  // namespace

std::string to_hex(std::span<const std::byte> bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    s.push_back(digits[std::to_integer<unsigned>(b) >> 4]);
    s.push_back(digits[std::to_integer<unsigned>(b) & 15]);
  }
  return s;
}

bool from_hex(std::string_view text, byte_buffer& out) {
  if (text.size() % 2) return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = val(text[i]), lo = val(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    std::byte b{static_cast<unsigned char>(hi << 4 | lo)};
    out.append(&b, 1);
  }
  return true;
}

std::optional<worker_environment> worker_environment::take() {
  const char* role = std::getenv("TROUPE_ROLE");
  if (!role || std::strcmp(role, "worker") != 0) return std::nullopt;
  worker_environment w;
  w.cluster = parse_hex(std::getenv("TROUPE_CLUSTER"));
  w.node = parse_hex(std::getenv("TROUPE_NODE"));
  w.parent_node = parse_hex(std::getenv("TROUPE_PARENT_NODE"));
  w.root_node = parse_hex(std::getenv("TROUPE_ROOT_NODE"));
  w.parent_pid = static_cast<pid_t>(std::strtol(std::getenv("TROUPE_PARENT_PID") ? std::getenv("TROUPE_PARENT_PID") : "0", nullptr, 10));
  w.daemon = std::getenv("TROUPE_DAEMON") && std::strcmp(std::getenv("TROUPE_DAEMON"), "1") == 0;
  if (const char* v = std::getenv("TROUPE_PROCESS_NAME")) w.name = v;
  if (const char* v = std::getenv("TROUPE_MAIN_ACTOR")) w.main_actor = v;
  if (const char* v = std::getenv("TROUPE_MAIN_ARGS")) w.main_args = v;
  for (const char* k : {"TROUPE_ROLE", "TROUPE_CLUSTER", "TROUPE_NODE", "TROUPE_PARENT_NODE", "TROUPE_ROOT_NODE",
                        "TROUPE_PARENT_PID", "TROUPE_DAEMON", "TROUPE_PROCESS_NAME", "TROUPE_MAIN_ACTOR",
                        "TROUPE_MAIN_ARGS"})
    ::unsetenv(k);
  if (!w.cluster || !w.node || !w.parent_node || w.parent_pid <= 0) return std::nullopt;
  return w;
}

struct process_manager::child {
  std::shared_ptr<process_state> state;
  std::unique_ptr<asio::posix::stream_descriptor> pidfd;
  std::unique_ptr<asio::steady_timer> grace;    // shutdown escalation (SIGKILL)
  std::unique_ptr<asio::steady_timer> explain;  // explain_down fallback
};

struct process_manager::parent_watch {
  std::unique_ptr<asio::posix::stream_descriptor> pidfd;
  std::function<void()> gone;
};

process_manager::process_manager(node& n, std::vector<std::string> argv) : node_(n), argv_(std::move(argv)) {}

process_manager::~process_manager() {
  for (auto& [id, c] : children_) {
    std::error_code ec;
    if (c->pidfd) c->pidfd->close(ec);
  }
}

actor_ref process_manager::start_main(const std::string& name, const std::string& hex_args) {
  const actor_factory* f = find_actor_factory(name);
  if (!f) throw spawn_error("no main actor named " + name + " is registered");
  byte_buffer args;
  if (!from_hex(hex_args, args)) throw spawn_error("the arguments of main actor " + name + " are garbled");
  actor_ref r = f->start(node_, spawn_options{}, f->fn, args.span());  // (arguments decoded here)
  if (r.id != main_actor_id) {
    node_.kill(r, exit_reason::error, "not the node's first actor");
    throw spawn_error("main actor " + name + " is not this node's first actor");
  }
  if (actor* a = node_.lookup(r.id)) {
    node_.hold(a);
    main_held_ = true;
  }
  main_ = r;
  return r;
}

void process_manager::release_main() noexcept {
  if (!std::exchange(main_held_, false)) return;
  if (actor* a = node_.lookup(main_.id)) node_.release(a);
}

std::size_t process_manager::alive() const noexcept { return children_.size(); }

std::shared_ptr<process_state> process_manager::spawn(const process_options& opts, const std::string& main_actor,
                                                      const byte_buffer& main_args) {
  auto s = std::make_shared<process_state>();
  s->home = &node_;
  s->node = random_id();
  s->daemon = opts.daemon;
  s->has_main = !main_actor.empty();

  // Environment: ours, the worker settings, then the caller's extras.
  std::vector<std::string> env;
  auto overridden = [&](const char* e) {
    for (auto& [k, v] : node_.child_environment())
      if (std::strncmp(e, k.c_str(), k.size()) == 0 && e[k.size()] == '=') return true;
    for (auto& [k, v] : opts.env)
      if (std::strncmp(e, k.c_str(), k.size()) == 0 && e[k.size()] == '=') return true;
    return std::strncmp(e, "TROUPE_ROLE=", 12) == 0;
  };
  for (char** e = environ; *e; ++e)
    if (!overridden(*e)) env.emplace_back(*e);
  env.push_back("TROUPE_ROLE=worker");
  env.push_back("TROUPE_CLUSTER=" + hex64(node_.cluster_id()));
  env.push_back("TROUPE_NODE=" + hex64(s->node));
  env.push_back("TROUPE_PARENT_NODE=" + hex64(node_.id()));
  env.push_back("TROUPE_ROOT_NODE=" + hex64(node_.root_id()));
  env.push_back("TROUPE_PARENT_PID=" + std::to_string(::getpid()));
  env.push_back(std::string("TROUPE_DAEMON=") + (opts.daemon ? "1" : "0"));
  if (!opts.name.empty()) env.push_back("TROUPE_PROCESS_NAME=" + std::string(opts.name));
  if (!main_actor.empty()) {
    env.push_back("TROUPE_MAIN_ACTOR=" + main_actor);
    env.push_back("TROUPE_MAIN_ARGS=" + to_hex(main_args.span()));
  }
  for (auto& [k, v] : node_.child_environment()) {
    bool caller_sets = false;
    for (auto& [k2, v2] : opts.env) caller_sets |= k2 == k;
    if (!caller_sets) env.push_back(k + "=" + v);  // the caller's choice wins
  }
  for (auto& [k, v] : opts.env) env.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : argv_) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGCHLD, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, "/proc/self/exe", nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw spawn_error(std::string("cannot start a process: ") + std::strerror(rc));
  s->pid = pid;
  s->name = opts.name.empty() ? "process-" + std::to_string(pid) : std::string(opts.name);

  int fd = open_pidfd(pid);
  if (fd < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw spawn_error(std::string("cannot watch the new process: pidfd_open: ") + std::strerror(errno));
  }
  auto c = std::make_shared<child>();
  c->state = s;
  c->pidfd = std::make_unique<asio::posix::stream_descriptor>(node_.io_context(), fd);
  children_[s->node] = c;
  if (auto* r = node_.router()) r->expect(s->node);
  std::weak_ptr<child> weak = c;
  c->pidfd->async_wait(asio::posix::descriptor_base::wait_read, [this, weak](std::error_code ec) {
    auto c = weak.lock();
    if (!c || ec) return;
    on_exit(c);
  });
  TROUPE_LOG(debug) << "started " << s->name << " (pid " << pid << ") as node " << hex64(s->node);
  return s;
}

void process_manager::wake(std::vector<std::pair<actor_ref, std::uint32_t>>& list) noexcept {
  auto waiters = std::move(list);
  list.clear();
  for (auto& [ref, token] : waiters) node_.unpark(ref, token);
}

void process_manager::on_peer_up(node_id peer) {
  auto it = children_.find(peer);
  if (it == children_.end() || it->second->state->ready) return;
  it->second->state->ready = true;
  wake(it->second->state->start_waiters);
}

void process_manager::on_exit(const std::shared_ptr<child>& c) {
  process_state& s = *c->state;
  siginfo_t info{};
  int rc = ::waitid(P_PIDFD, static_cast<id_t>(c->pidfd->native_handle()), &info, WEXITED | WNOHANG);
  bool reaped_elsewhere = rc != 0 && errno == ECHILD;  // (SIGCHLD ignored, or someone else's waitpid)
  if (!reaped_elsewhere && (rc != 0 || info.si_pid == 0)) {
    // Not reapable yet (or already reaped elsewhere): look again shortly.
    std::weak_ptr<child> weak = c;
    c->pidfd->async_wait(asio::posix::descriptor_base::wait_read, [this, weak](std::error_code ec) {
      auto c = weak.lock();
      if (!c || ec) return;
      on_exit(c);
    });
    return;
  }
  s.exited = true;
  if (reaped_elsewhere) {
    s.exitcode = 0;
    s.reason = "process " + s.name + " (pid " + std::to_string(s.pid) + ") ended (its status was collected elsewhere)";
  } else {
    s.exitcode = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
    s.reason = "process " + s.name + " (pid " + std::to_string(s.pid) + ") " + describe_status(info);
  }
  TROUPE_LOG(info) << s.reason;
  node_id id = s.node;
  std::error_code ec;
  c->pidfd->close(ec);
  if (c->grace) c->grace->cancel();
  if (c->explain) c->explain->cancel();
  children_.erase(id);
  {
    if (exited_order_.size() >= 256) {
      exited_.erase(exited_order_.front());
      exited_order_.erase(exited_order_.begin());
    }
    exited_[id] = exited_child{s.has_main, s.exitcode, s.reason};
    exited_order_.push_back(id);
  }
  if (auto* r = node_.router()) r->peer_gone(id, s.reason);
  node_.names_of_node_gone(id);
  wake(s.start_waiters);
  wake(s.exit_waiters);
  if (children_.empty() && !all_ended_.empty()) {
    auto fs = std::move(all_ended_);
    all_ended_.clear();
    for (auto& f : fs) f();
  }
  node_.idle_check();
}

bool process_manager::explain_end(down& d) const {
  auto it = exited_.find(d.actor.node);
  if (it == exited_.end()) return false;
  const exited_child& c = it->second;
  if (c.has_main && d.actor.id == main_actor_id && c.exitcode >= 0) {
    d.reason = c.exitcode == 0 ? exit_reason::normal : exit_reason::error;
    d.detail = c.exitcode == 0 ? std::string() : "the main actor's " + c.reason;
  } else {
    d.detail = c.reason;  // (a signal, or another actor: gone with its process)
  }
  return true;
}

void process_manager::when_all_ended(std::function<void()> f) {
  if (children_.empty())
    f();
  else
    all_ended_.push_back(std::move(f));
}

bool process_manager::explain_down(node_id peer, const std::string& reason) {
  auto it = children_.find(peer);
  if (it == children_.end()) return false;
  auto c = it->second;
  if (c->explain) return true;  // already armed: a later send does not push it back
  // The exit status comes through the pidfd in a moment; if the process
  // lives on (it closed the link but did not exit), report the link's reason.
  c->explain = std::make_unique<asio::steady_timer>(node_.io_context(), std::chrono::milliseconds(250));
  std::weak_ptr<child> weak = c;
  c->explain->async_wait([this, weak, peer, reason](std::error_code ec) {
    auto c = weak.lock();
    if (ec || !c || c->state->exited) return;
    auto keep = std::move(c->explain);  // (this handler's timer) a later loss may arm it again
    if (auto* r = node_.router()) r->peer_gone(peer, reason);
  });
  return true;
}

void process_manager::shutdown_children() {
  for (auto& [id, c] : children_) {
    process_state& s = *c->state;
    if (s.daemon) {
      ::kill(s.pid, SIGTERM);
    } else if (!s.has_main) {
      if (auto* r = node_.router())
        r->send_system(actor_ref{node_.id(), 0}, id, sys::shutdown{"the program is ending"});
      else
        ::kill(s.pid, SIGTERM);
    } else {
      continue;  // a process with a main actor is waited for, as Python joins non-daemonic children
    }
    // Escalate if it does not finish in time.
    c->grace = std::make_unique<asio::steady_timer>(node_.io_context(), node_.options().shutdown_grace);
    pid_t pid = s.pid;
    std::weak_ptr<child> weak = c;
    c->grace->async_wait([weak, pid](std::error_code ec) {
      auto c = weak.lock();
      if (ec || !c || c->state->exited) return;
      TROUPE_LOG(warn) << "process " << c->state->name << " did not finish in time; killed";
      ::kill(pid, SIGKILL);
    });
  }
}

void process_manager::kill_children() noexcept {
  for (auto& [id, c] : children_) ::kill(c->state->pid, SIGKILL);
}

void process_manager::watch_parent(pid_t parent, std::function<void()> gone) {
  int fd = open_pidfd(parent);
  if (fd < 0) {
    gone();
    return;
  }
  parent_ = std::make_unique<parent_watch>();
  parent_->gone = std::move(gone);
  parent_->pidfd = std::make_unique<asio::posix::stream_descriptor>(node_.io_context(), fd);
  parent_->pidfd->async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code ec) {
    if (ec || !parent_) return;
    auto gone = std::move(parent_->gone);
    if (gone) gone();
  });
}

}  // namespace troupe::detail
