#include "tcp_transport_impl.hpp"

#include <asio/connect.hpp>

#include <cstdio>

namespace troupe::tcp_detail {

void tcp_transport_impl::start(transport_host& host) {
  host_ = &host;
  limits_ = &host.limits();
  io_ = &host.io_context();
  if (!opts_.listen) return;
  tcp::resolver resolver(*io_);
  auto results = resolver.resolve(opts_.listen->host, std::to_string(opts_.listen->port));
  tcp::endpoint ep = *results.begin();
  acceptor_ = std::make_unique<tcp::acceptor>(*io_);
  acceptor_->open(ep.protocol());
  acceptor_->set_option(tcp::acceptor::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen();
  auto bound = acceptor_->local_endpoint();
  listening_ = tcp_endpoint{opts_.listen->host, bound.port()};
  accept_next();
}

void tcp_transport_impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  for (auto& t : retries_) t->cancel();
  auto links = links_;
  for (auto& l : links) l->fail("transport stopped");
  links_.clear();
  beats_.reset();
}

void tcp_transport_impl::accept_next() {
  acceptor_->async_accept([this](std::error_code ec, tcp::socket s) {
    if (stopped_) return;
    if (!ec) {
      std::error_code e;
      auto remote = s.remote_endpoint(e);
      std::string where = e ? std::string("unknown") : remote.address().to_string() + ":" + std::to_string(remote.port());
      auto l = std::make_shared<tcp_link>(*this, std::move(s), false, 0, where);
      links_.push_back(l);
      l->begin();
    }
    accept_next();
  });
}

void tcp_transport_impl::learned(node_id n, const tcp_endpoint& e) {
  auto it = directory_.find(n);
  if (it != directory_.end() && it->second.host == e.host && it->second.port == e.port) return;
  directory_[n] = e;
  // Tell every peer, so that any node can reach any other directly.
  for (auto& l : links_)
    if (l->up() && l->peer() != n) l->send_directory({{n, e}});
}

void tcp_transport_impl::link_ready(const std::shared_ptr<tcp_link>& l) {
  std::vector<std::pair<node_id, tcp_endpoint>> all;
  for (auto& [n, e] : directory_)
    if (n != l->peer()) all.emplace_back(n, e);
  if (listening_) all.emplace_back(host_->local_node(), *listening_);
  l->send_directory(all, true);  // the first frame on every link: a joining node waits for it
  host_->link_up(l);
}

bool tcp_transport_impl::connect(node_id peer) {
  if (stopped_) return false;
  auto it = directory_.find(peer);
  if (it == directory_.end()) return false;
  attempt(peer, it->second, 5, std::chrono::milliseconds(100), clk::time_point::max());
  return true;
}

void tcp_transport_impl::join(const tcp_endpoint& where, std::chrono::milliseconds give_up) {
  attempt(0, where, 1 << 30, std::chrono::milliseconds(50), clk::now() + give_up);
}

// One connection attempt; on failure, another after `backoff` (doubling,
// at most 5 s) while tries and time are left.
void tcp_transport_impl::attempt(node_id peer, tcp_endpoint where, int tries_left, std::chrono::milliseconds backoff,
                                 clk::time_point give_up) {
  auto sock = std::make_shared<tcp::socket>(*io_);
  auto resolver = std::make_shared<tcp::resolver>(*io_);
  resolver->async_resolve(
      where.host, std::to_string(where.port),
      [this, peer, where, tries_left, backoff, give_up, sock, resolver](std::error_code ec,
                                                                         tcp::resolver::results_type results) {
        if (stopped_) return;
        auto retry = [=, this](const std::string& why) {
          if (tries_left <= 1 || clk::now() + backoff > give_up) {
            if (peer)
              connect_failed(peer, "cannot connect to " + where.to_string() + ": " + why);
            else
              join_error_ = why, std::fprintf(stderr, "troupe[%d] error: cannot join the cluster at %s: %s\n", ::getpid(),
                           where.to_string().c_str(), why.c_str());
            return;
          }
          auto t = std::make_shared<asio::steady_timer>(*io_, backoff);
          retries_.push_back(t);
          t->async_wait([=, this](std::error_code e) {
            std::erase(retries_, t);
            if (e || stopped_) return;
            attempt(peer, where, tries_left - 1, std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5)),
                    give_up);
          });
        };
        if (ec) return retry(ec.message());
        asio::async_connect(*sock, results, [this, peer, where, sock, retry](std::error_code ec, const tcp::endpoint&) {
          if (stopped_) return;
          if (ec) return retry(ec.message());
          auto l = std::make_shared<tcp_link>(*this, std::move(*sock), true, peer, where.to_string());
          links_.push_back(l);
          l->begin();
        });
      });
}

}  // namespace troupe::tcp_detail

namespace troupe {

std::unique_ptr<tcp_transport> make_tcp_transport(tcp_options opts) {
  return std::make_unique<tcp_detail::tcp_transport_impl>(std::move(opts));
}

}  // namespace troupe

