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
int run_root(int argc, char** argv, root_function root, node_options opts = {});

inline int run(int argc, char** argv, std::nullptr_t, node_options opts = {}) {
  return run_root(argc, argv, root_function(), opts);
}

template <class F>
int run(int argc, char** argv, F&& root, node_options opts = {}) {
  using R = std::invoke_result_t<F&, actor&>;
  if constexpr (std::is_same_v<R, task<int>>) {
    return run_root(argc, argv, root_function(std::forward<F>(root)), opts);
  } else if constexpr (std::is_same_v<R, task<void>>) {
    return run_root(
        argc, argv,
        [f = std::forward<F>(root)](actor& self) -> task<int> {
          co_await f(self);
          co_return 0;
        },
        opts);
  } else {
    static_assert(detail::always_false<R>,
                  "troupe::run: the root is fn(actor&) returning troupe::task<void> or troupe::task<int>; it must be "
                  "a coroutine (a lambda needs `-> troupe::task<void>` and a co_await or co_return)");
    return 1;
  }
}

}  // namespace troupe
