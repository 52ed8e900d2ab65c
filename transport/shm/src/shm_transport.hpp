// The shared-memory transport of a node: its listening socket, its links,
// and the poll loop that reads their rings, runs the actors that became
// ready and publishes what they wrote (see ../include/troupe/transport/shm.hpp).
#pragma once

#include "idle_strategy.hpp"
#include "shm_link.hpp"

#include <troupe/transport/shm.hpp>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace troupe::shm_detail {

class shm_transport final : public transport {
 public:
  explicit shm_transport(const shm_options& o) : opts_(o), idle_(idle_settings(o)) {
    if (opts_.ring_bytes < 4096 || (opts_.ring_bytes & (opts_.ring_bytes - 1)))
      throw std::invalid_argument("shm ring size must be a power of two of at least 4096 bytes");
  }
  ~shm_transport() override { stop(); }

  std::string_view name() const noexcept override { return "shm"; }
  void start(transport_host& host) override;
  void stop() override;
  bool connect(node_id peer) override;

  transport_host& host() { return *host_; }
  const frame_limits& limits() const { return *limits_; }
  asio::io_context& io() { return *io_; }
  const shm_options& options() const { return opts_; }
  int eventfd() const { return efd_; }
  std::string next_segment_name() {
    return "troupe-" + hex(host_->cluster_id()) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++segments_);
  }
  void link_ready(const std::shared_ptr<shm_link>& l) {
    host_->link_up(l);
    start_polling();
  }
  // A closed link may still be on the call stack (it failed while reading):
  // it is destroyed at the next poll, not now.
  void forget(shm_link* l) {
    for (auto& x : links_)
      if (x.get() == l) graveyard_.push_back(std::move(x));
    std::erase_if(links_, [](auto& x) { return !x; });
  }
  void start_polling() {
    if (poll_posted_ || stopped_) return;
    poll_posted_ = true;
    asio::post(*io_, [this] { poll(); });
  }
  // Written frames become visible before the next actor runs (the host
  // flushes us), or at the end of this turn of the event loop when none
  // runs (frames written by link set-up, say).
  void schedule_publish(shm_link* l) {
    if (!l->mark_dirty()) return;
    dirty_.push_back(l->shared_from_this());
    host_->request_flush(*this);
    if (publish_posted_) return;
    publish_posted_ = true;
    asio::post(*io_, [this] {
      publish_posted_ = false;
      publish_all();
    });
  }
  void flush() override { publish_all(); }
  void publish_all() {
    for (auto& l : dirty_) l->publish_dirty();
    dirty_.clear();
  }
  bool stopped() const { return stopped_; }

 private:
  static idle_strategy::settings idle_settings(const shm_options& o) {
    idle_strategy::settings s;
    s.spin = o.spin;
    s.yield = o.yield;
    return s;
  }
  void accept_next();
  void poll();
  void sleep();

  shm_options opts_;
  transport_host* host_ = nullptr;
  const frame_limits* limits_ = nullptr;  // the host's, fixed while it runs: read once, not per frame
  asio::io_context* io_ = nullptr;
  int efd_ = -1;
  std::unique_ptr<asio::posix::stream_descriptor> efd_watch_;
  std::unique_ptr<asio::posix::stream_descriptor> listener_;
  std::vector<std::shared_ptr<shm_link>> links_;
  std::vector<std::shared_ptr<shm_link>> graveyard_;
  std::vector<std::shared_ptr<shm_link>> dirty_;
  bool publish_posted_ = false;
  bool poll_posted_ = false;
  bool waiting_ = false;
  bool stopped_ = false;
  idle_strategy idle_;
  long switches_ = 0;  // involuntary context switches at the last yield
  std::uint64_t segments_ = 0;
};

}  // namespace troupe::shm_detail
