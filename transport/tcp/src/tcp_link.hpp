// One TCP link: its authenticated handshake, the frames it reads and
// writes (one contiguous write per turn, a bounded send queue), its
// heartbeat and the directory of listening addresses it passes on.
#pragma once

#include "handshake.hpp"
#include "heartbeat_thread.hpp"

#include <troupe/detail/byte_buffer.hpp>
#include <troupe/transport/tcp.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace troupe::tcp_detail {

using tcp = asio::ip::tcp;
using clk = std::chrono::steady_clock;

// Transport-level frames, never handed to the host.
constexpr type_id heartbeat_type = 0x6f3f3bf1d0b6e1a1ull;  // troupe::tcp::heartbeat
constexpr type_id directory_type = 0x2c9b1f86a1d45e07ull;  // troupe::tcp::directory

class tcp_transport_impl;

class tcp_link final : public link, public std::enable_shared_from_this<tcp_link> {
 public:
  tcp_link(tcp_transport_impl& t, tcp::socket s, bool outbound, node_id expected, std::string where)
      : t_(t), sock_(std::move(s)), outbound_(outbound), expected_(expected), where_(std::move(where)),
        timer_(sock_.get_executor()) {}

  node_id peer() const noexcept override { return peer_; }
  std::string_view transport_name() const noexcept override { return "tcp"; }
  std::string describe() const override { return "tcp link to node " + hex(peer_) + " at " + where_; }
  send_result send(std::span<const std::byte, frame_header::size> header, std::span<const std::byte> payload) override;
  bool congested() const noexcept override;
  bool has_unsent() const noexcept override { return queued_ > 0; }
  // What the peer sent before the end is delivered first (the node may
  // close a link on news of the peer's death before reading it all).
  void close(const std::string& reason) override {
    if (state_ == state::up) {
      std::error_code ec;
      sock_.non_blocking(true, ec);
      for (;;) {
        std::size_t have = in_.size();
        in_.resize(have + 256 * 1024);
        std::size_t n = sock_.read_some(asio::buffer(in_.data() + have, 256 * 1024), ec);
        in_.resize(have + (ec ? 0 : n));
        if (ec || n == 0) break;
        parse();
        if (state_ != state::up) return;
      }
    }
    fail(reason);
  }

  void begin();
  void fail(const std::string& reason);
  bool up() const { return state_ == state::up; }
  void send_directory(const std::vector<std::pair<node_id, tcp_endpoint>>& entries, bool even_empty = false);

 private:
  enum class state { handshaking, up, closed };
  void read_handshake();
  void on_hello(const hs_msg& m);
  void on_proof(const hs_msg& m);
  void reject(const std::string& why);
  void write_raw(std::shared_ptr<std::vector<std::byte>> bytes);
  void read_more();
  void parse();
  void on_frame(const frame_header& h, std::span<const std::byte> payload);
  void queue_frame(const frame_header& h, std::span<const std::byte> payload);
  void write_next();
  void write_done();
  void release_gate() {
    if (gate_held_) gate_->unlock();
    gate_held_ = false;
  }
  void wait_writable();
  void write_failed(int error);
  void heartbeat();

  tcp_transport_impl& t_;
  tcp::socket sock_;
  bool outbound_;
  node_id expected_;
  std::string where_;
  node_id peer_ = 0;
  std::optional<tcp_endpoint> peer_address_;
  state state_ = state::handshaking;
  std::array<std::byte, 32> my_nonce_{}, peer_nonce_{};
  bool got_hello_ = false;
  std::array<std::byte, hs_msg::size> hs_buf_{};
  // Reading: as much as the socket has, into `in_`; complete frames are
  // delivered from there, a partial one waits for the rest.
  detail::byte_buffer in_;
  std::size_t in_start_ = 0;
  // Writing: frames accumulate in `pending_` while `out_` is being written,
  // so each write takes everything queued since the last one.
  detail::byte_buffer out_, pending_;
  std::size_t queued_ = 0;
  std::size_t out_carry_ = 0;  // bytes of a heartbeat the thread began, leading out_
  bool writing_ = false;
  std::shared_ptr<detail::heartbeat_gate> gate_;  // shared with the heartbeat thread once up
  bool gate_held_ = false;                        // this loop is writing to the socket
  bool was_congested_ = false;
  asio::steady_timer timer_;
  clk::time_point last_rx_ = clk::now();
  clk::time_point last_check_ = clk::now();
  clk::duration quiet_{};  // how long the peer has been silent while we listened
};

}  // namespace troupe::tcp_detail
