// The router connects a node to other nodes: it owns the transports, keeps
// one link per peer node, turns outbound messages into frames and inbound
// frames into envelopes, and does the cluster bookkeeping (remote monitors,
// requests in flight, spawn and lookup on behalf of other nodes).
#pragma once

#include <troupe/actor_ref.hpp>
#include <troupe/errors.hpp>
#include <troupe/message.hpp>
#include <troupe/detail/byte_buffer.hpp>
#include <troupe/detail/flow_control.hpp>
#include <troupe/transport/transport.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace troupe {
class node;
class actor;
}

namespace troupe::detail {

class router final : public transport_host {
 public:
  explicit router(node& n);
  ~router();

  void add_transport(std::unique_ptr<transport> t);
  void stop();

  /// Frames one message to `to` (a remote actor); true when the link is now
  /// congested and the sender should wait.
  bool send(actor_ref from, actor_ref to, const message_type& t, const void* value, std::uint64_t correlation,
            std::uint8_t flags);
  template <class T>
  bool send_as(actor_ref from, actor_ref to, const T& msg, std::uint64_t correlation, std::uint8_t flags) {
    return send(from, to, message_type_of<T>(), &msg, correlation, flags);
  }
  /// A control message to node `to` (handled by its router).
  template <class T>
  bool send_system(actor_ref from, node_id to, const T& msg, std::uint64_t correlation = 0, std::uint8_t flags = 0) {
    return send(from, actor_ref{to, 0}, message_type_of<T>(), &msg, correlation, flags | frame_flags::system);
  }

  void monitor(actor_ref watcher, actor_ref target);
  void demonitor(actor_ref watcher, actor_ref target);
  void kill_remote(actor_ref target, exit_reason why);
  void actor_ended(actor_ref who, exit_reason why, const std::string& detail);
  void forget_request(std::uint64_t correlation) noexcept { inflight_.erase(correlation); }

  /// Makes `self` wait while the link to `target`'s node, or `target`'s
  /// window, is full (it is woken when there is room).
  void block_on(actor* self, actor_ref target);
  void unblock(actor* a) noexcept;
  /// Hands credit back to node `to`: local actor `who` took that much of
  /// what it sent.
  void grant(node_id to, actor_id who, std::uint32_t messages, std::uint64_t bytes);

  /// Opens a link to `peer` unless one is up or coming.
  void connect(node_id peer);
  /// `peer` will open its link to us (a child process that is starting):
  /// frames to it wait for that link, rather than for a connect that would
  /// find nobody listening yet.
  void expect(node_id peer);
  /// Could a message still arrive from outside (a peer, or a transport
  /// that waits for peers)?
  bool may_receive() const noexcept;
  /// Frames still waiting to be written to some link.
  bool has_pending() const noexcept;
  /// Peers with a live link (the first one found, or 0).
  node_id any_linked_peer() const noexcept {
    for (auto& [id, p] : peers_)
      if (!p->links.empty()) return id;
    return 0;
  }
  /// Is there a live link to `peer`?
  bool connected(node_id peer) const;
  /// Called for a node this process knows to be gone (its process exited):
  /// closes the link if any and fires monitors with `reason`.
  void peer_gone(node_id peer, const std::string& reason);
  /// The process layer can explain why a peer's links went down (exit code,
  /// signal). When it returns true it calls peer_gone() itself, soon.
  using down_explainer = std::function<bool(node_id peer, const std::string& link_reason)>;
  void set_down_explainer(down_explainer e) { explainer_ = std::move(e); }
  /// Handler for control messages this router does not know (e.g. process
  /// management added by the runtime's process layer).
  using system_handler = std::function<void(const frame_header&, message&)>;
  void on_system(type_id t, system_handler h) { system_handlers_[t] = std::move(h); }

  // transport_host
  asio::io_context& io_context() override;
  node_id local_node() const override;
  std::uint64_t cluster_id() const override;
  const frame_limits& limits() const override;
  void run_ready() override;
  void request_flush(transport& t) override;
  /// Flushes the transports that asked for it; cheap when none did.
  void flush_transports() {
    if (!to_flush_.empty()) flush_now();
  }
  void link_up(std::shared_ptr<link> l) override;
  void deliver(link& from, const frame_header& h, std::span<const std::byte> payload) override;
  void link_writable(link& l) override;
  void link_down(link& l, const std::string& reason) override;
  void connect_failed(node_id peer, const std::string& reason) override;

 private:
  struct peer {
    node_id id = 0;
    // The first link is the one we send on; a peer that connected to us
    // while we connected to it may add a second, used only for receiving.
    std::vector<std::shared_ptr<troupe::link>> links;
    bool connecting = false;
    std::size_t next_transport = 0;  // which transport to try next
    std::deque<byte_buffer> pending;  // frames waiting for the link
    std::size_t pending_bytes = 0;
    blocked_list blocked;  // senders waiting for room on the link
    std::unordered_map<actor_id, flow> flows;  // per remote receiver: what may still go to it
    std::unordered_multimap<actor_id, actor_ref> monitors;  // remote target -> local watcher
  };

  peer& peer_for(node_id id);
  void try_connect(peer& p);
  void flush_pending(peer& p);
  void fail_peer(node_id id, const std::string& reason);
  void wake_blocked(blocked_list& l) noexcept;
  flow& flow_for(peer& p, actor_id to) {
    if (last_flow_ && last_flow_actor_ == to && last_flow_node_ == p.id) return *last_flow_;
    return find_flow(p, to);
  }
  flow& find_flow(peer& p, actor_id to);
  void forget_flows() noexcept { last_flow_ = nullptr; }
  void credited(node_id from, actor_id target, std::uint32_t messages, std::uint64_t bytes);
  bool congested(const peer& p) const noexcept;
  void handle_system(const frame_header& h, message& m);
  const message_type* type_of(type_id id);

  node& node_;
  peer* last_peer_ = nullptr;  // the peer of the previous send: usually the next one's too
  flow* last_flow_ = nullptr;  // and its receiver's window
  node_id last_flow_node_ = 0;
  actor_id last_flow_actor_ = 0;
  std::vector<std::unique_ptr<transport>> transports_;
  std::unordered_map<node_id, std::unique_ptr<peer>> peers_;
  std::unordered_map<std::uint64_t, std::pair<actor_ref, node_id>> inflight_;  // correlation -> requester, peer
  std::unordered_map<type_id, const message_type*> types_;  // lock-free cache of the registry
  const message_type* last_type_ = nullptr;
  std::unordered_map<type_id, system_handler> system_handlers_;
  void flush_now();
  std::vector<transport*> to_flush_;
  down_explainer explainer_;
  byte_buffer scratch_;
  bool stopping_ = false;
  bool flushing_ = false;
};

}  // namespace troupe::detail
