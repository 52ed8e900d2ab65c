// How an actor is started.
#pragma once

#include <cstdint>
#include <string>

namespace troupe {

struct spawn_options {
  /// Register the new actor under this name (empty: no name).
  std::string name;
  /// Messages its mailbox holds before `co_await throttle()` suspends senders;
  /// 0 takes the node's default.
  std::uint32_t mailbox_capacity = 0;
};

}  // namespace troupe
