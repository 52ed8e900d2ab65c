// The TCP transport of a node: its listener, its links, joining a cluster
// with retries and backoff, and the directory of where each node listens
// (see ../include/troupe/transport/tcp.hpp).
#pragma once

#include "tcp_link.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace troupe::tcp_detail {

class tcp_transport_impl final : public tcp_transport {
 public:
  explicit tcp_transport_impl(tcp_options o) : opts_(std::move(o)) {
    if (opts_.secret.empty())
      throw std::runtime_error(
          "the TCP transport needs the cluster's secret: set TROUPE_COOKIE, or TROUPE_COOKIE_FILE to a file readable "
          "by its owner only");
  }
  ~tcp_transport_impl() override { stop(); }

  std::string_view name() const noexcept override { return "tcp"; }
  void start(transport_host& host) override;
  void stop() override;
  bool connect(node_id peer) override;
  bool expects_peers() const noexcept override { return acceptor_ != nullptr; }
  std::optional<tcp_endpoint> listening() const override { return listening_; }
  void join(const tcp_endpoint& where, std::chrono::milliseconds give_up) override;
  std::optional<std::string> join_error() const override { return join_error_; }
  node_id joined() const override { return joined_; }
  // The first directory from the node we joined: we know what it knows.
  void directory_received(node_id from, bool outbound_join) {
    if (outbound_join && !joined_) joined_ = from;
  }
  void join_failed(const std::string& why) { join_error_ = why; }
  std::vector<std::pair<node_id, tcp_endpoint>> directory() const override {
    return {directory_.begin(), directory_.end()};
  }

  transport_host& host() { return *host_; }
  const frame_limits& limits() const { return *limits_; }
  const tcp_options& options() const { return opts_; }
  detail::heartbeat_thread& beats() {
    if (!beats_) beats_ = std::make_unique<detail::heartbeat_thread>(opts_.heartbeat);
    return *beats_;
  }
  bool stopped() const { return stopped_; }
  void forget(tcp_link* l) {
    for (auto& x : links_)
      if (x.get() == l) graveyard_.push_back(std::move(x));
    std::erase_if(links_, [](auto& x) { return !x; });
    asio::post(*io_, [this] { graveyard_.clear(); });
  }
  void learned(node_id n, const tcp_endpoint& e);
  void link_ready(const std::shared_ptr<tcp_link>& l);
  void connect_failed(node_id peer, const std::string& why) {
    if (!stopped_) host_->connect_failed(peer, why);
  }

 private:
  void accept_next();
  void attempt(node_id peer, tcp_endpoint where, int tries_left, std::chrono::milliseconds backoff,
               clk::time_point give_up);

  tcp_options opts_;
  transport_host* host_ = nullptr;
  const frame_limits* limits_ = nullptr;  // the host's, fixed while it runs: read once, not per frame
  asio::io_context* io_ = nullptr;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::optional<tcp_endpoint> listening_;
  std::vector<std::shared_ptr<tcp_link>> links_, graveyard_;
  std::map<node_id, tcp_endpoint> directory_;
  std::vector<std::shared_ptr<asio::steady_timer>> retries_;
  std::unique_ptr<detail::heartbeat_thread> beats_;
  bool stopped_ = false;
  std::optional<std::string> join_error_;
  node_id joined_ = 0;
};

}  // namespace troupe::tcp_detail
