// One shared-memory link: the handshake over its Unix socket, the ring it
// reads and the ring it writes (in the peer's segment), the outbox of
// frames that did not fit, and the decoding of what it reads.
#pragma once

#include "handshake.hpp"
#include "ring.hpp"

#include <troupe/detail/byte_buffer.hpp>
#include <troupe/transport/transport.hpp>

#include <asio/posix/stream_descriptor.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <utility>

namespace troupe::shm_detail {

class shm_transport;

/// Wakes the process sleeping on eventfd `efd`.
void wake(int efd);

class shm_link final : public link, public std::enable_shared_from_this<shm_link> {
 public:
  shm_link(shm_transport& t, int fd, bool outbound, node_id expected_peer);
  ~shm_link() override { release(); }

  node_id peer() const noexcept override { return peer_; }
  std::string_view transport_name() const noexcept override { return "shm"; }
  std::string describe() const override {
    return "shm link to node " + hex(peer_) + " (pid " + std::to_string(peer_pid_) + ")";
  }
  send_result send(std::span<const std::byte, frame_header::size> header, std::span<const std::byte> payload) override;
  bool congested() const noexcept override { return !outbox_.empty(); }
  bool has_unsent() const noexcept override { return !outbox_.empty() || unpublished_ > 0; }
  // Frames the peer published before the end are delivered first: the
  // node closes a link when it learns (say, from the pidfd) that the peer
  // died, possibly before this link has read everything.
  void close(const std::string& reason) override {
    while (up() && read_some() > 0) {
    }
    fail(reason);
  }

  void begin();
  /// Reads up to read_budget frames; returns how many records it consumed.
  int read_some();
  /// Writes queued frames; true if anything moved. With `notify`, tells
  /// the host when the outbox has drained.
  bool flush_outbox(bool notify = true);
  bool up() const noexcept { return state_ == state::up; }
  bool has_outbox() const noexcept { return !outbox_.empty(); }
  bool prepare_sleep() noexcept { return up() && reader_.prepare_sleep(); }
  /// Makes written frames visible to the peer (and wakes it if it sleeps).
  void publish() noexcept {
    unpublished_ = 0;
    if (state_ == state::up && writer_.publish()) wake(peer_efd_);
  }
  void cancel_sleep() noexcept {
    if (up()) reader_.cancel_sleep();
  }
  /// Marks the link as having frames to publish; false if it already was.
  bool mark_dirty() noexcept { return !std::exchange(dirty_, true); }
  /// Publishes what was written, once the transport gets to it.
  void publish_dirty() noexcept {
    dirty_ = false;
    publish();
  }
  void fail(const std::string& reason);

 private:
  enum class state { handshaking, up, closed };
  struct pending_frame {
    detail::byte_buffer buf;  // what is left of the frame
    std::size_t offset = 0;   // of it, already written
    bool started = false;     // earlier chunks were written before it was queued
  };

  void watch_socket();
  void on_socket_readable();
  void on_handshake(const hs_msg& m, int passed_fd);
  void maybe_up();
  void reject(const std::string& reason);
  bool create_own_segment();
  void unlink_own_segment() noexcept;
  void deliver_frame(std::span<const std::byte> frame);
  void deliver_compact(std::span<const std::byte> record);
  void release() noexcept;

  shm_transport& t_;
  asio::posix::stream_descriptor sock_;
  bool outbound_;
  node_id expected_peer_;
  node_id peer_ = 0;
  pid_t peer_pid_ = 0;
  state state_ = state::handshaking;
  bool hello_done_ = false;   // we mapped the peer's ring
  bool peer_mapped_ = false;  // the peer mapped ours
  bool reported_up_ = false;

  std::string own_name_;
  std::string peer_segment_;  // the peer's segment, by name: unlinked by us too if the peer dies first
  std::unique_ptr<boost::interprocess::mapped_region> own_region_;
  std::unique_ptr<boost::interprocess::mapped_region> peer_region_;
  ring_reader reader_;
  ring_writer writer_;
  int peer_efd_ = -1;

  std::deque<pending_frame> outbox_;
  std::size_t unpublished_ = 0;
  bool dirty_ = false;  // in the transport's list of links to publish
  detail::byte_buffer partial_;
  bool in_frame_ = false;
  std::size_t frame_expected_ = 0;
};

}  // namespace troupe::shm_detail
