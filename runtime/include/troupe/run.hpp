// troupe::run — the `if __name__ == "__main__"` of a troupe program. In the
// process the user started it runs `root` on a fresh node and returns the
// exit code; in a process started by spawn_process it becomes a worker node
// instead and never runs `root`.
#pragma once

#include <troupe/node.hpp>

#include <functional>
#include <type_traits>

namespace troupe {

using root_function = std::function<task<int>(actor&)>;

/// True in a process started by spawn_process. A program with its own main
/// loop (a test runner, say) calls troupe::run at once when this is true:
///
///   int main(int argc, char** argv) {
///     if (troupe::is_worker_process()) return troupe::run(argc, argv, nullptr);
///     ...
bool is_worker_process() noexcept;

/// Adds a transport of the program's own to every node troupe::run starts
/// (root and workers), tried before shared memory and TCP. Call it in main
/// before troupe::run, so that processes started later (which run main
/// again) register it too.
void register_transport(std::function<std::unique_ptr<transport>()> make);

/// Runs `root` as the first actor of this process's node, then shuts the
/// node down. Returns 0 when the root returns normally (or the int it
/// returns), 1 when an exception escapes it (printed on stderr), 2 when the
/// program deadlocks (every actor waits and nothing can wake one).
///
/// In a process started by spawn_process it serves as a worker node
/// instead, and ends that process when done: it never returns there, so
/// code after it in `main` (and a later troupe::run) runs only in the
/// process the user started. It may be called several times in one
/// program, one after another (a benchmark's rounds, say).
int run_root(int argc, char** argv, root_function root, node_options opts = {});
/// Same, with the command line this process was started with (for
/// --troupe-listen and --troupe-join, and for the processes it starts).
int run_root(root_function root, node_options opts = {});

namespace detail {
template <class F>
root_function make_root(F&& root) {
  using R = std::invoke_result_t<F&, actor&>;
  if constexpr (std::is_same_v<R, task<int>>) {
    return root_function(std::forward<F>(root));
  } else if constexpr (std::is_same_v<R, task<void>>) {
    return [f = std::forward<F>(root)](actor& self) -> task<int> {
      co_await f(self);
      co_return 0;
    };
  } else {
    static_assert(always_false<R>,
                  "troupe::run: the root is fn(actor&) returning troupe::task<void> or troupe::task<int>; it must be "
                  "a coroutine (a lambda needs `-> troupe::task<void>` and a co_await or co_return)");
    return root_function();
  }
}
}  // namespace detail

inline int run(int argc, char** argv, std::nullptr_t, node_options opts = {}) {
  return run_root(argc, argv, root_function(), opts);
}

/// The program's one shape, for one process or many:
///
///   int main(int argc, char** argv) {
///     return troupe::run(argc, argv, [](troupe::actor& self) -> troupe::task<void> { ... });
///   }
template <class F>
  requires std::is_invocable_v<F&, actor&>
int run(int argc, char** argv, F&& root, node_options opts = {}) {
  return run_root(argc, argv, detail::make_root(std::forward<F>(root)), opts);
}

/// Same, where `main` takes no arguments: `return troupe::run(root);`.
template <class F>
  requires std::is_invocable_v<F&, actor&>
int run(F&& root, node_options opts = {}) {
  return run_root(detail::make_root(std::forward<F>(root)), opts);
}

}  // namespace troupe
