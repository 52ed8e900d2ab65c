// The shared-memory transport: frames between the processes of one machine
// through lock-free single-producer single-consumer rings in shared memory
// (Boost.Interprocess), woken through the event loop by eventfds.
//
// A link is set up over an abstract Unix socket named after the cluster and
// the node ("\0troupe-<cluster>-<node>"): each side creates the ring it will
// read from in a named segment, passes its eventfd and the segment name,
// maps the peer's segment, and unlinks its own once the peer has mapped it.
// /dev/shm holds a segment only for the instant of a handshake; a crashed
// run's leftovers are removed by cleanup_stale_segments() at the next start.
// The socket stays open to tell each side at once when the other dies.
#pragma once

#include <troupe/transport/transport.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace troupe {

struct shm_options {
  /// Bytes of each ring (one per direction per peer); a power of two.
  std::size_t ring_bytes = std::size_t{1} << 20;
  /// After the last frame the receiver polls in a tight loop this long, then
  /// polls yielding its core to other tasks for `yield`, then sleeps on its
  /// eventfd: low latency while traffic is hot, no CPU when idle. While its
  /// core is contended (more busy processes than cores) it does not spin
  /// at all, so the peer it waits for can run.
  std::chrono::microseconds spin{50};
  std::chrono::microseconds yield{50};

  /// Defaults, overridden by TROUPE_SHM_RING_BYTES, TROUPE_SHM_SPIN_US and
  /// TROUPE_SHM_YIELD_US.
  static shm_options from_env();
};

std::unique_ptr<transport> make_shm_transport(const shm_options& opts = shm_options::from_env());

/// Removes troupe segments in /dev/shm whose creating process is gone.
/// Returns how many were removed.
std::size_t cleanup_stale_segments();

/// The abstract socket name a node of a cluster listens on.
std::string shm_socket_name(std::uint64_t cluster, node_id node);

}  // namespace troupe
