// troupe::run: starts the node of this process with the default transports
// and either runs the root actor (the process the user started) or serves
// as a worker node (a process started by spawn_process). It lives in the
// umbrella library because it wires concrete transports, which the runtime
// itself only knows through the transport interface.
#include <troupe/actor_registry.hpp>
#include <troupe/detail/process_manager.hpp>
#include <troupe/detail/router.hpp>
#include <troupe/log.hpp>
#include <troupe/run.hpp>
#include <troupe/transport/shm.hpp>
#include <troupe/transport/tcp.hpp>

#include <asio/signal_set.hpp>
#include <csignal>
#include <malloc.h>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <sys/prctl.h>
#include <unistd.h>

namespace troupe {
namespace {

// Sets `flag` when the actor frame holding it is destroyed, however it ends
// (returns, throws, or is killed).
struct on_end {
  std::function<void()> f;
  ~on_end() {
    if (f) f();
  }
};

// Where this node listens and which cluster it joins: --troupe-listen and
// --troupe-join on the command line, else TROUPE_LISTEN and TROUPE_JOIN;
// TROUPE_TRANSPORTS chooses transports ("shm,tcp" by default).
struct network_settings {
  std::optional<tcp_endpoint> listen, join;
  bool shm = true, tcp = true;
  std::string secret;
};

network_settings read_network_settings(const std::vector<std::string>& args, bool worker) {
  network_settings s;
  auto flag = [&](const char* name) -> std::optional<std::string> {
    if (worker) return std::nullopt;  // a child inherits the command line; its parent's settings are in its environment
    std::string eq = std::string(name) + "=";
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == name && i + 1 < args.size()) return args[i + 1];
      if (args[i].rfind(eq, 0) == 0) return args[i].substr(eq.size());
    }
    return std::nullopt;
  };
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v && *v ? std::optional<std::string>(v) : std::nullopt;
  };
  if (auto v = flag("--troupe-listen") ? flag("--troupe-listen") : env("TROUPE_LISTEN")) s.listen = tcp_endpoint::parse(*v);
  if (auto v = flag("--troupe-join") ? flag("--troupe-join") : env("TROUPE_JOIN")) s.join = tcp_endpoint::parse(*v);
  if (auto v = env("TROUPE_TRANSPORTS")) {
    s.shm = v->find("shm") != std::string::npos;
    s.tcp = v->find("tcp") != std::string::npos;
  }
  s.secret = load_cluster_secret();
  return s;
}

// The cluster of nodes that share a secret is named after it, so that
// nodes started apart (on one machine) also find each other's shared memory.
std::uint64_t cluster_of_secret(const std::string& secret) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : "troupe-cluster:" + secret) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h ? h : 1;
}

// Adds the transports; when this node speaks TCP, joins the cluster if
// asked and waits until it has (false: it could not).
std::vector<std::function<std::unique_ptr<transport>()>>& user_transports() {
  static std::vector<std::function<std::unique_ptr<transport>()>> t;
  return t;
}

bool add_default_transports(node& n, const network_settings& net, bool worker) {
  for (auto& make : user_transports()) n.add_transport(make());
  if (net.shm) n.add_transport(make_shm_transport());
  bool use_tcp = net.tcp && (net.listen || net.join);
  if (!use_tcp) return true;
  tcp_options o;
  o.listen = net.listen;
  o.secret = net.secret;
  if (const char* v = std::getenv("TROUPE_HEARTBEAT_MS")) o.heartbeat = std::chrono::milliseconds(std::atol(v));
  if (const char* v = std::getenv("TROUPE_HANDSHAKE_TIMEOUT_MS"))
    o.handshake_timeout = std::chrono::milliseconds(std::atol(v));
  auto t = make_tcp_transport(o);
  tcp_transport& tcp = *t;
  n.add_transport(std::move(t));
  // Processes started from here speak TCP too, and join through this node.
  if (auto l = tcp.listening()) {
    std::vector<std::pair<std::string, std::string>> env{{"TROUPE_LISTEN", l->host + ":0"},
                                                         {"TROUPE_JOIN", l->to_string()}};
    n.set_child_environment(std::move(env));
  }
  if (!net.join) return true;
  tcp.join(*net.join, std::chrono::seconds(30));
  asio::io_context& io = n.io_context();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(31);
  // Joined once the link is up and the node joined has said whom it knows:
  // the main actor then reaches every node its parent could.
  while (!tcp.joined() && !tcp.join_error() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(50));
  }
  node_id joined = tcp.joined();
  if (!joined) return false;
  if (!worker) n.set_root(joined);  // the node joined keeps the cluster's names
  return true;
}

// After the actors: let children finish (daemons are terminated, serving
// nodes asked to stop, those with a main actor waited for), then give the
// links a moment to hand over what they still hold.
void finish_process(node& n) {
  asio::io_context& io = n.io_context();
  io.restart();
  if (auto* pm = n.processes()) {
    pm->shutdown_children();
    while (pm->alive() > 0 && io.run_one() > 0) {
    }
  }
  if (n.router()) n.router()->flush_transports();
  io.restart();  // (a shutdown on the way may have stopped it)
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (n.router() && n.router()->has_pending() && std::chrono::steady_clock::now() < deadline)
    io.run_one_for(std::chrono::milliseconds(10));
}

[[noreturn]] void reraise(int sig) {
  std::fflush(nullptr);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
  std::_Exit(128 + sig);
}

int run_worker(std::vector<std::string> args, const detail::worker_environment& w, node_options opts,
               int& signal_received) {
  if (w.daemon) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != w.parent_pid) return 1;  // the parent died before the line above
  }
  opts.id = w.node;
  opts.cluster = w.cluster;
  opts.root = w.root_node;
  network_settings net = read_network_settings(args, true);
  node n(opts);
  n.enable_processes(std::move(args));
  // The main actor is the node's first actor (its parent already knows the
  // address), held until this node has reached the cluster.
  bool has_main = !w.main_actor.empty();
  actor_ref main;
  if (has_main) {
    try {
      main = n.processes()->start_main(w.main_actor, w.main_args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "troupe: cannot start main actor %s: %s\n", w.main_actor.c_str(), e.what());
      return 1;
    }
  }
  if (!add_default_transports(n, net, true)) return 1;
  asio::signal_set signals(n.io_context(), SIGTERM);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    signal_received = sig;
    n.shutdown();
  });
  n.processes()->watch_parent(w.parent_pid, [&n, has_main] {
    // A daemon dies with its parent (PR_SET_PDEATHSIG); a serving node has
    // nobody left to serve; a process with a main actor finishes it.
    if (!has_main) n.shutdown();
  });
  if (!n.connected(w.parent_node)) n.connect(w.parent_node);

  int code = 0;
  if (has_main) {
    n.spawn([&](actor& self) -> task<void> {
      self.monitor(main);  // (runs before the main actor, released below)
      auto d = co_await self.receive<down>();
      if (d->reason == exit_reason::error) {
        std::fprintf(stderr, "troupe: main actor %s failed: %s\n", w.main_actor.c_str(), d->detail.c_str());
        code = 1;
      } else if (auto c = self.node().exit_code_requested()) {
        code = *c;
      }
      self.node().shutdown();
    });
    n.processes()->release_main();
  }
  n.serve();
  finish_process(n);
  if (auto c = n.exit_code_requested()) code = *c;
  return code;
}

int run_as_root(std::vector<std::string> args, root_function& root, node_options opts, int& signal_received) {
  network_settings net;
  try {
    net = read_network_settings(args, false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "troupe: %s\n", e.what());
    return 2;
  }
  if (!net.secret.empty() && opts.cluster == 0) opts.cluster = cluster_of_secret(net.secret);
  // Declared before the node: a root that never finished is destroyed with
  // the node, and its end guard still writes these.
  int code = 0;
  bool root_done = false;
  bool node_ending = false;
  node n(opts);
  try {
    if (!add_default_transports(n, net, false)) {
      std::fprintf(stderr, "troupe: could not join the cluster at %s\n", net.join->to_string().c_str());
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "troupe: %s\n", e.what());
    return 2;
  }
  n.enable_processes(std::move(args));
  asio::signal_set signals(n.io_context(), SIGTERM, SIGINT);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    signal_received = sig;
    n.shutdown();
  });
  n.spawn([&](actor& self) -> task<void> {
    on_end guard{[&] {
      root_done = true;
      if (node_ending) return;  // destroyed with the node: nothing left to stop
      // The program is over when its root is. Its processes end first, as
      // at Python's exit (daemons terminated, serving nodes asked to stop,
      // processes with a main actor waited for): this node's actors (a
      // queue, a pool) serve them until then, so a daemon blocked on one
      // sees its own shutdown rather than a failed request.
      if (auto* pm = n.processes(); pm && pm->alive() > 0) {
        pm->shutdown_children();
        pm->when_all_ended([&n] { n.shutdown(); });
      } else {
        n.shutdown();
      }
    }};
    try {
      code = co_await root(self);
    } catch (const actor_shutdown&) {
      code = 1;
    } catch (const process_exit& e) {
      code = e.code;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "troupe: the root actor failed: %s\n", e.what());
      code = 1;
    }
  });
  bool ok = n.run();
  finish_process(n);
  node_ending = true;
  if (!root_done) {
    if (!ok)
      std::fprintf(stderr,
                   "troupe: deadlock: every actor waits for a message and nothing can wake one "
                   "(%zu actors alive)\n",
                   n.actor_count());
    else
      std::fprintf(stderr, "troupe: the root actor was stopped before it finished\n");
    return 2;
  }
  return code;
}

}  // namespace

void register_transport(std::function<std::unique_ptr<transport>()> make) {
  user_transports().push_back(std::move(make));
}

bool is_worker_process() noexcept {
  const char* role = std::getenv("TROUPE_ROLE");
  return role && std::string_view(role) == "worker";
}

// Messages of hundreds of KiB (pool chunks, files) would otherwise be
// mapped and unmapped by malloc one by one, each page faulted in afresh:
// keep blocks up to 64 MiB on the heap. TROUPE_MALLOC_TUNING=0 leaves
// glibc's defaults; so do explicit MALLOC_* settings.
void tune_malloc() {
  const char* v = std::getenv("TROUPE_MALLOC_TUNING");
  if ((v && std::string_view(v) == "0") || std::getenv("MALLOC_MMAP_THRESHOLD_")) return;
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

namespace {

std::vector<std::string> own_command_line() {
  std::vector<std::string> args;
  if (std::FILE* f = std::fopen("/proc/self/cmdline", "rb")) {
    std::string arg;
    for (int c; (c = std::fgetc(f)) != EOF;) {
      if (c == '\0') {
        args.push_back(std::move(arg));
        arg.clear();
      } else {
        arg.push_back(static_cast<char>(c));
      }
    }
    std::fclose(f);
  }
  if (args.empty()) args.emplace_back("troupe-program");
  return args;
}

int run_with(std::vector<std::string> args, root_function root, node_options opts) {
  tune_malloc();
  int signal_received = 0;
  // The node is gone (links closed, nothing left in /dev/shm) before a
  // signal that asked us to end is raised again for the parent to see.
  if (auto w = detail::worker_environment::take()) {
    int code = run_worker(std::move(args), *w, opts, signal_received);
    if (signal_received) reraise(signal_received);
    // A worker's work ends here: the rest of `main` belongs to the process
    // the user started.
    std::fflush(nullptr);
    std::exit(code);
  }
  if (!root) {
    std::fprintf(stderr, "troupe::run: no root actor given, and this process was not started by spawn_process\n");
    return 2;
  }
  int code = run_as_root(std::move(args), root, opts, signal_received);
  // A descendant killed in the middle of setting up a link can leave a
  // segment name behind; the root removes those of dead processes as it ends.
  cleanup_stale_segments();
  if (signal_received) reraise(signal_received);
  return code;
}

}  // namespace

int run_root(int argc, char** argv, root_function root, node_options opts) {
  return run_with(std::vector<std::string>(argv, argv + argc), std::move(root), opts);
}

int run_root(root_function root, node_options opts) { return run_with(own_command_line(), std::move(root), opts); }

}  // namespace troupe
