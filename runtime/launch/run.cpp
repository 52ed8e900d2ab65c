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

#include <asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
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

void add_default_transports(node& n) { n.add_transport(make_shm_transport()); }

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
  node n(opts);
  add_default_transports(n);
  n.enable_processes(std::move(args));
  asio::signal_set signals(n.io_context(), SIGTERM);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    signal_received = sig;
    n.shutdown();
  });
  bool has_main = !w.main_actor.empty();
  n.processes()->watch_parent(w.parent_pid, [&n, has_main] {
    // A daemon dies with its parent (PR_SET_PDEATHSIG); a serving node has
    // nobody left to serve; a process with a main actor finishes it.
    if (!has_main) n.shutdown();
  });
  n.connect(w.parent_node);

  int code = 0;
  const detail::actor_factory* f = nullptr;
  detail::byte_buffer main_args;  // lives until the main actor has read it
  if (has_main) {
    f = detail::find_actor_factory(w.main_actor);
    if (!f || !detail::from_hex(w.main_args, main_args)) {
      std::fprintf(stderr, "troupe: worker: no main actor named %s is registered\n", w.main_actor.c_str());
      return 1;
    }
    n.spawn([&](actor& self) -> task<void> {
      actor_ref main;
      try {
        main = f->start(self.node(), spawn_options{}, f->fn, main_args.span());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "troupe: cannot start main actor %s: %s\n", w.main_actor.c_str(), e.what());
        code = 1;
        self.node().shutdown();
        co_return;
      }
      self.monitor(main);
      auto d = co_await self.receive<down>();
      if (d->reason == exit_reason::error) {
        std::fprintf(stderr, "troupe: main actor %s failed: %s\n", w.main_actor.c_str(), d->detail.c_str());
        code = 1;
      } else if (auto c = self.node().exit_code_requested()) {
        code = *c;
      }
      self.node().shutdown();
    });
  }
  n.serve();
  finish_process(n);
  if (auto c = n.exit_code_requested()) code = *c;
  return code;
}

int run_as_root(std::vector<std::string> args, root_function& root, node_options opts, int& signal_received) {
  node n(opts);
  add_default_transports(n);
  n.enable_processes(std::move(args));
  int code = 0;
  bool root_done = false;
  asio::signal_set signals(n.io_context(), SIGTERM, SIGINT);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    signal_received = sig;
    n.shutdown();
  });
  n.spawn([&](actor& self) -> task<void> {
    on_end guard{[&] {
      root_done = true;
      n.shutdown();  // the program is over when its root is: the other actors get to finish
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

bool is_worker_process() noexcept {
  const char* role = std::getenv("TROUPE_ROLE");
  return role && std::string_view(role) == "worker";
}

int run_root(int argc, char** argv, root_function root, node_options opts) {
  std::vector<std::string> args(argv, argv + argc);
  int signal_received = 0;
  int code;
  // The node is gone (links closed, nothing left in /dev/shm) before a
  // signal that asked us to end is raised again for the parent to see.
  if (auto w = detail::worker_environment::take())
    code = run_worker(std::move(args), *w, opts, signal_received);
  else if (!root) {
    std::fprintf(stderr, "troupe::run: no root actor given, and this process was not started by spawn_process\n");
    return 2;
  } else
    code = run_as_root(std::move(args), root, opts, signal_received);
  if (signal_received) reraise(signal_received);
  return code;
}

}  // namespace troupe
