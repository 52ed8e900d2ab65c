// Processes: actor::spawn_process starts a new OS process running this same
// program (posix_spawn of the running binary, like Python's "spawn" start
// method), which becomes a worker node of the cluster. `process` is the
// handle, shaped like multiprocessing.Process.
#pragma once

#include <troupe/actor_ref.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace troupe {

class actor;

// Option structs own what they hold and are meant to be written as
// designated initializers, `co_await self.spawn_process({.name = "w"})`.
// (Not so on g++ 12, which destroys such a temporary twice inside a
// co_await expression: there, name the options first; docs/guide.md,
// "Compiler pitfalls".)
struct process_options {
  /// Shown in logs and `down` reasons; "process-<pid>" when empty.
  std::string name;
  /// A daemonic process never outlives its parent, even when the parent is
  /// killed with SIGKILL. When the program ends normally, daemonic
  /// children are terminated and the others are waited for (as Python does).
  bool daemon = false;
  /// Extra environment variables for the new process.
  std::vector<std::pair<std::string, std::string>> env;
  /// How long to wait for the new process to join the cluster.
  std::chrono::steady_clock::duration start_timeout = std::chrono::seconds(30);
};

/// Thrown when a process or a remote actor cannot be started.
class spawn_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown from an actor to end its process with `code` (like sys.exit): in
/// a process's main actor, or in the root actor.
struct process_exit {
  int code = 0;
};

namespace detail {
struct process_state;
/// A process's main actor is the first actor its node starts, so its
/// parent knows the address before the process runs.
inline constexpr actor_id main_actor_id = (actor_id{1} << 32) | 1;
}

class process {
 public:
  process() = default;
  explicit process(std::shared_ptr<detail::process_state> s) : s_(std::move(s)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(s_); }
  pid_t pid() const noexcept;
  const std::string& name() const noexcept;
  node_ref node() const noexcept;
  /// The address of the process's main actor (given to spawn_process), at
  /// once: what is sent to it before the process has joined waits for it.
  /// Empty for a process started without one.
  actor_ref main_actor() const noexcept;
  bool daemon() const noexcept;
  /// False once the process has ended (any cause).
  bool is_alive() const noexcept;
  /// Empty while it runs; its exit code when it exited, or minus the signal
  /// number when a signal killed it (as Python reports it).
  std::optional<int> exitcode() const noexcept;
  /// Asks it to finish (SIGTERM): its actors see actor_shutdown and unwind.
  void terminate() const noexcept;
  /// Ends it at once (SIGKILL).
  void kill() const noexcept;

  /// Waits until the process has ended; true if it has (false: timed out).
  class join_awaiter;
  join_awaiter join(actor& self) const noexcept;
  join_awaiter join(actor& self, std::chrono::steady_clock::duration timeout) const noexcept;

  const std::shared_ptr<detail::process_state>& state() const noexcept { return s_; }

 private:
  std::shared_ptr<detail::process_state> s_;
};

}  // namespace troupe
