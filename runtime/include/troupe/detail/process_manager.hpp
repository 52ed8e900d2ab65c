// The process layer of a node: starts child processes (posix_spawn of the
// running binary), watches them through pidfds, reaps them and reports how
// they ended, and knows this process's own parent when it is a worker.
#pragma once

#include <troupe/detail/byte_buffer.hpp>
#include <troupe/detail/process_state.hpp>
#include <troupe/errors.hpp>
#include <troupe/process.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace troupe {
class node;
}

namespace troupe::detail {

/// How this process was started, read from the environment (and removed
/// from it, so that programs this process runs do not inherit it).
struct worker_environment {
  std::uint64_t cluster = 0;
  node_id node = 0;
  node_id parent_node = 0;
  node_id root_node = 0;
  pid_t parent_pid = 0;
  bool daemon = false;
  std::string name;
  std::string main_actor;  // registered name of the main actor, if any
  std::string main_args;   // its serialized arguments, hex
  static std::optional<worker_environment> take();
};

class process_manager {
 public:
  process_manager(node& n, std::vector<std::string> argv);
  ~process_manager();

  /// Starts a child; it is ready once its link to this node is up.
  std::shared_ptr<process_state> spawn(const process_options& opts, const std::string& main_actor,
                                       const byte_buffer& main_args);
  void on_peer_up(node_id peer);
  /// Router hook: a link to `peer` went down. True when `peer` is a child
  /// whose exit status will explain it (the manager reports it itself).
  bool explain_down(node_id peer, const std::string& reason);
  /// How an actor of a child that has exited ended, as far as its exit
  /// status tells: the main actor of a process that exited with code 0
  /// ended normally, with another code in error; any other is gone with
  /// its process (the detail says how it ended). Rewrites `d` (an
  /// `unreachable` down) and returns true when it knows better.
  bool explain_end(down& d) const;
  /// At the end of the program: terminate daemonic children, ask serving
  /// ones to shut down, and let those with a main actor finish.
  void shutdown_children();
  /// Calls `f` once no child is left (at once if none is).
  void when_all_ended(std::function<void()> f);
  std::size_t alive() const noexcept;
  /// Kills every child at once (the program is failing).
  void kill_children() noexcept;

  /// Worker side: starts the main actor `name` (serialized arguments, hex)
  /// as this node's first actor, so that its address is
  /// {node, main_actor_id}, which the parent knew before the process ran.
  /// It is held off the ready queue until release_main(): it runs only
  /// once this node reaches the cluster. Throws spawn_error.
  actor_ref start_main(const std::string& name, const std::string& hex_args);
  void release_main() noexcept;

  /// Worker side: watch the parent; `gone` runs once it has died.
  void watch_parent(pid_t parent, std::function<void()> gone);

 private:
  struct child;
  void on_exit(const std::shared_ptr<child>& c);
  void wake(std::vector<std::pair<actor_ref, std::uint32_t>>& waiters) noexcept;

  node& node_;
  std::vector<std::string> argv_;
  std::unordered_map<node_id, std::shared_ptr<child>> children_;
  struct parent_watch;
  std::unique_ptr<parent_watch> parent_;
  std::vector<std::function<void()>> all_ended_;
  actor_ref main_;
  bool main_held_ = false;
  // Children that have exited lately: node -> how (a monitor placed just
  // after may still ask).
  struct exited_child {
    bool has_main = false;
    int exitcode = 0;
    std::string reason;
  };
  std::unordered_map<node_id, exited_child> exited_;
  std::vector<node_id> exited_order_;  // oldest first, at most 256
};

/// Hex for arguments carried in the environment.
std::string to_hex(std::span<const std::byte> bytes);
bool from_hex(std::string_view text, byte_buffer& out);

}  // namespace troupe::detail
