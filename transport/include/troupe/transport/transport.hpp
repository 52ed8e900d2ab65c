// The transport interface: how frames travel between the nodes of a
// cluster. The runtime depends on this interface only; shared memory and TCP
// are two implementations, and a user can add another (Unix sockets, RDMA,
// ...) by implementing `transport` and `link` and handing it to
// node::add_transport. See docs/transports.md.
#pragma once

#include <troupe/transport/frame.hpp>
#include <troupe/transport/wire_format.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace asio {
class io_context;
}

namespace troupe {

class link;
class transport;

/// What a transport may ask of the node that hosts it. All calls happen on
/// the node's event loop thread.
class transport_host {
 public:
  virtual asio::io_context& io_context() = 0;
  virtual node_id local_node() const = 0;
  /// The cluster this node belongs to (segment and socket names use it).
  virtual std::uint64_t cluster_id() const = 0;
  virtual const frame_limits& limits() const = 0;

  /// A link finished its handshake; frames may flow both ways.
  virtual void link_up(std::shared_ptr<link> l) = 0;
  /// One inbound frame, valid only during the call. An exception thrown
  /// from here (a misaddressed frame) makes the transport close the link.
  virtual void deliver(link& from, const frame_header& h, std::span<const std::byte> payload) = 0;
  /// A link that reported congestion can take frames again.
  virtual void link_writable(link& l) = 0;
  /// Runs the actors that deliver() made ready, now. A transport that
  /// polls in a tight loop calls it so that a message can be answered
  /// without a trip through the event loop.
  virtual void run_ready() = 0;
  /// The transport holds written frames it has not made visible yet
  /// (batching saves a fence per frame); the host calls its flush() before
  /// the next actor runs, so a message is never held back while its sender
  /// waits or another actor works.
  virtual void request_flush(transport& t) = 0;
  /// The link is gone (peer died, connection cut, protocol error); `reason`
  /// says why in words. No frames are delivered from it afterwards.
  virtual void link_down(link& l, const std::string& reason) = 0;
  /// connect() to `peer` failed.
  virtual void connect_failed(node_id peer, const std::string& reason) = 0;

 protected:
  ~transport_host() = default;
};

/// A connection to one peer node.
class link {
 public:
  enum class send_result {
    ok,         ///< queued or written
    congested,  ///< queued, but over the link's bound: senders should wait for link_writable
    closed,     ///< the link is down; the frame was not taken
  };

  virtual ~link() = default;
  virtual node_id peer() const noexcept = 0;
  virtual std::string_view transport_name() const noexcept = 0;
  /// "shm to node 3fa2... (pid 4711)", for logs and errors.
  virtual std::string describe() const = 0;

  /// Sends one frame, given as its encoded header and payload. The link
  /// copies the bytes before returning. Frames to one peer arrive in order.
  virtual send_result send(std::span<const std::byte, frame_header::size> header,
                           std::span<const std::byte> payload) = 0;
  /// True while the link holds more than its bound.
  virtual bool congested() const noexcept = 0;
  /// True while the link holds frames it has not handed to its medium yet
  /// (a process about to exit waits for this to clear).
  virtual bool has_unsent() const noexcept { return congested(); }
  /// Closes the link; the host hears link_down.
  virtual void close(const std::string& reason) = 0;
};

class transport {
 public:
  virtual ~transport() = default;
  virtual std::string_view name() const noexcept = 0;
  /// Called once by node::add_transport.
  virtual void start(transport_host& host) = 0;
  /// Closes every link and stops accepting; called when the node ends.
  virtual void stop() = 0;
  /// Starts connecting to `peer` in the background; the host then hears
  /// link_up or connect_failed. Returns false at once when this transport
  /// has no way to reach `peer`, so the host can try the next transport.
  virtual bool connect(node_id peer) = 0;
  /// True when peers may connect to this node on their own (a listening
  /// TCP transport): the node then never counts as deadlocked.
  virtual bool expects_peers() const noexcept { return false; }
  /// Makes every frame written so far visible to its peer (see
  /// transport_host::request_flush).
  virtual void flush() {}
};

}  // namespace troupe
