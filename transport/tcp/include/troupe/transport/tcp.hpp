// The TCP transport: frames between nodes on different machines (or
// processes told to use it), over Asio sockets.
//
// A link starts with a handshake: both sides send a hello (protocol
// version, serialization format, node id, a random challenge, the address
// they listen on), then prove that they know the cluster's secret with an
// HMAC-SHA256 over both challenges and both node ids. A peer that fails
// gets no frame delivered and is disconnected with a logged reason; so is
// a peer whose serialization format would misread ours. After that, frames
// flow both ways in the common format, everything queued written in one go
// and read many frames at a time;
// heartbeats detect a dead or silent peer. docs/protocol.md describes the
// bytes exactly.
#pragma once

#include <troupe/transport/transport.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace troupe {

struct tcp_endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const { return host + ":" + std::to_string(port); }
  /// "HOST:PORT" (an IPv6 host in brackets); throws std::invalid_argument.
  static tcp_endpoint parse(const std::string& text);
};

struct tcp_options {
  /// Listen here (port 0: any free port); empty: accept no connections.
  std::optional<tcp_endpoint> listen;
  /// The cluster's secret (see load_cluster_secret).
  std::string secret;
  /// A heartbeat goes out this often; a peer silent for three is dead.
  std::chrono::milliseconds heartbeat{1000};
  /// Bytes queued for a peer beyond which senders are asked to wait.
  std::size_t send_queue_bytes = 8u << 20;
  /// How long a new connection may take to complete its handshake.
  std::chrono::milliseconds handshake_timeout{5000};
};

/// The cluster secret: TROUPE_COOKIE, else the file named by
/// TROUPE_COOKIE_FILE, else empty. A file readable by group or others is
/// refused with an error that says so (std::runtime_error).
std::string load_cluster_secret();

class tcp_transport : public transport {
 public:
  /// The address actually listened on (the port chosen when 0 was asked).
  virtual std::optional<tcp_endpoint> listening() const = 0;
  /// Connects to a node known only by its address (joining a cluster);
  /// retries with backoff until `give_up` passes. The host hears link_up
  /// (with the node id learnt in the handshake) or nothing.
  virtual void join(const tcp_endpoint& where, std::chrono::milliseconds give_up) = 0;
  /// Why joining failed for good (the peer refused us, or time ran out).
  virtual std::optional<std::string> join_error() const = 0;
  /// The node joined through (0 until the link is up and that node has told
  /// us every address it knows, so that we reach whoever it reaches).
  virtual node_id joined() const = 0;
  /// Where other nodes can be reached, as far as this node knows.
  virtual std::vector<std::pair<node_id, tcp_endpoint>> directory() const = 0;
};

std::unique_ptr<tcp_transport> make_tcp_transport(tcp_options opts);

}  // namespace troupe
