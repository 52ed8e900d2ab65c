// Credits: how a receiver's bound reaches senders in other processes.
//
// A node may send to an actor of another node a window of messages and
// bytes (flow_window_*) ahead of what that actor has taken from its mailbox.
// The receiving node counts what each actor takes, per sending node, and
// hands it back as a sys::credit once a quarter window has been taken. A sender past its window is told
// "over the bound" by send, so `co_await self.throttle()` suspends it until
// credit comes back; other receivers on the same link are not held up.
#pragma once

#include <troupe/actor_ref.hpp>

#include <cstdint>

namespace troupe {
class actor;
}

namespace troupe::detail {

// Wide enough that credit coming back over a round trip (a wake-up of each
// process on its own core) rarely stalls a throttling sender of small
// messages; a window of them is still only a few MB.
inline constexpr std::int64_t flow_window_messages = 16384;
inline constexpr std::int64_t flow_window_bytes = std::int64_t{16} << 20;
inline constexpr std::uint32_t credit_batch_messages = flow_window_messages / 4;
inline constexpr std::uint64_t credit_batch_bytes = flow_window_bytes / 4;

/// Envelope flag (beside frame_flags): came from another node and counts
/// against that node's window.
inline constexpr std::uint8_t envelope_credited = 0x80;

/// What an actor has taken from one sending node and not yet handed back.
struct credit_owed {
  node_id from = 0;
  std::uint32_t messages = 0;
  std::uint64_t bytes = 0;
};

/// On the sending node: what may still go to one remote actor.
struct blocked_list {
  actor* head = nullptr;  ///< senders waiting (linked through actor::blocked_next_)
};
struct flow {
  std::int64_t messages = flow_window_messages;
  std::int64_t bytes = flow_window_bytes;
  blocked_list blocked;
  bool exhausted() const noexcept { return messages <= 0 || bytes <= 0; }
  bool full() const noexcept { return messages >= flow_window_messages && bytes >= flow_window_bytes; }
};

}  // namespace troupe::detail
