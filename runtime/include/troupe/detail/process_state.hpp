// What a node knows about one child process; shared by the process manager
// and every `process` handle.
#pragma once

#include <troupe/actor_ref.hpp>

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace troupe {
class node;
}

namespace troupe::detail {

struct process_state {
  troupe::node* home = nullptr;
  pid_t pid = 0;
  std::string name;
  node_id node = 0;
  bool daemon = false;
  bool has_main = false;
  bool ready = false;   // joined the cluster (its link is up)
  bool exited = false;  // reaped
  int exitcode = 0;     // negative: killed by that signal
  std::string reason;   // "exited with code 3", "killed by signal 9 (SIGKILL)"
  /// Actors parked until this process is ready (or has exited), and
  /// until it has exited: (actor, park token).
  std::vector<std::pair<actor_ref, std::uint32_t>> start_waiters;
  std::vector<std::pair<actor_ref, std::uint32_t>> exit_waiters;
};

}  // namespace troupe::detail
