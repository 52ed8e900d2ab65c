#include "tcp_link.hpp"

#include "tcp_transport_impl.hpp"

#include <asio/read.hpp>
#include <asio/write.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace troupe::tcp_detail {

// --- link: handshake ------------------------------------------------------------

void tcp_link::begin() {
  std::error_code ec;
  sock_.set_option(tcp::no_delay(true), ec);
  RAND_bytes(reinterpret_cast<unsigned char*>(my_nonce_.data()), static_cast<int>(my_nonce_.size()));
  hs_msg m;
  m.type = hs_hello;
  m.node = t_.host().local_node();
  wire_format::local().encode(std::span<std::byte, wire_format::encoded_size>(m.format));
  m.nonce = my_nonce_;
  if (auto l = t_.listening()) {
    m.listen_host = l->host;
    m.listen_port = l->port;
  }
  auto bytes = std::make_shared<std::vector<std::byte>>(hs_msg::size);
  std::array<std::byte, hs_msg::size> buf;
  m.encode(buf);
  std::memcpy(bytes->data(), buf.data(), buf.size());
  write_raw(bytes);
  // A peer that does not finish the handshake in time is dropped.
  timer_.expires_after(t_.options().handshake_timeout);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec && self->state_ == state::handshaking) self->fail("no complete handshake within the time allowed");
  });
  read_handshake();
}

void tcp_link::write_raw(std::shared_ptr<std::vector<std::byte>> bytes) {
  asio::async_write(sock_, asio::buffer(*bytes), [self = shared_from_this(), bytes](std::error_code ec, std::size_t) {
    if (ec) self->fail("write failed: " + ec.message());
  });
}

void tcp_link::read_handshake() {
  asio::async_read(sock_, asio::buffer(hs_buf_), [self = shared_from_this()](std::error_code ec, std::size_t) {
    if (self->state_ == state::closed) return;
    if (ec) return self->fail("connection closed during the handshake: " + ec.message());
    hs_msg m;
    if (auto err = m.decode(self->hs_buf_); !err.empty()) return self->fail(err);
    if (m.type == hs_reject) return self->fail("peer refused the link: " + m.reason);
    if (m.version != hs_version)
      return self->reject("protocol version " + std::to_string(m.version) + " is not " + std::to_string(hs_version));
    if (m.type == hs_hello && !self->got_hello_)
      self->on_hello(m);
    else if (m.type == hs_proof && self->got_hello_)
      self->on_proof(m);
    else
      return self->reject("unexpected handshake message");
    if (self->state_ == state::handshaking) self->read_handshake();
  });
}

void tcp_link::on_hello(const hs_msg& m) {
  got_hello_ = true;
  wire_format peer_format = wire_format::decode(std::span<const std::byte, wire_format::encoded_size>(m.format));
  if (auto why = wire_format::local().incompatibility(peer_format)) return reject(*why);
  if (m.node == 0 || m.node == t_.host().local_node()) return reject("bad node id " + hex(m.node));
  if (expected_ && m.node != expected_)
    return reject("expected node " + hex(expected_) + ", reached node " + hex(m.node));
  peer_ = m.node;
  peer_nonce_ = m.nonce;
  if (m.listen_port) {
    std::string host = m.listen_host;
    // A peer listening on every address is reached where it connected from.
    if (host.empty() || host == "0.0.0.0" || host == "::") {
      std::error_code ec;
      auto ep = sock_.remote_endpoint(ec);
      if (!ec) host = ep.address().to_string();
    }
    peer_address_ = tcp_endpoint{host, m.listen_port};  // trusted once the proof checks out
  }
  hs_msg p;
  p.type = hs_proof;
  p.node = t_.host().local_node();
  p.proof = proof_of(t_.options().secret, outbound_ ? "client" : "server", peer_nonce_, my_nonce_,
                     t_.host().local_node(), peer_);
  auto bytes = std::make_shared<std::vector<std::byte>>(hs_msg::size);
  std::array<std::byte, hs_msg::size> buf;
  p.encode(buf);
  std::memcpy(bytes->data(), buf.data(), buf.size());
  write_raw(bytes);
}

void tcp_link::on_proof(const hs_msg& m) {
  auto expect = proof_of(t_.options().secret, outbound_ ? "server" : "client", my_nonce_, peer_nonce_, peer_,
                         t_.host().local_node());
  if (CRYPTO_memcmp(expect.data(), m.proof.data(), expect.size()) != 0)
    return reject("wrong cluster secret (authentication failed)");
  state_ = state::up;
  timer_.cancel();
  last_rx_ = last_check_ = clk::now();
  {
    frame_header h;
    h.flags = frame_flags::system;
    h.type = heartbeat_type;
    h.dst_node = peer_;
    h.src_node = t_.host().local_node();
    std::array<std::byte, frame_header::size> hb;
    encode_header(h, hb);
    gate_ = std::make_shared<detail::heartbeat_gate>(sock_.native_handle(), hb);
    t_.beats().add(gate_);
  }
  if (peer_address_) t_.learned(peer_, *peer_address_);
  t_.link_ready(shared_from_this());
  read_more();
  heartbeat();
}

void tcp_link::reject(const std::string& why) {
  hs_msg r;
  r.type = hs_reject;
  r.reason = why;
  auto bytes = std::make_shared<std::vector<std::byte>>(hs_msg::size);
  std::array<std::byte, hs_msg::size> buf;
  r.encode(buf);
  std::memcpy(bytes->data(), buf.data(), buf.size());
  // Best effort: the reason goes out, then the connection closes.
  std::error_code ec;
  asio::write(sock_, asio::buffer(*bytes), ec);
  fail("refused " + where_ + ": " + why);
}

void tcp_link::fail(const std::string& reason) {
  if (state_ == state::closed) return;
  bool was_up = state_ == state::up;
  state_ = state::closed;
  auto keep = shared_from_this();
  std::error_code ec;
  timer_.cancel();
  if (gate_) gate_->close(gate_held_);  // the heartbeat thread lets go of the socket first
  gate_held_ = false;
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
  pending_.clear();
  queued_ = 0;
  t_.forget(this);
  if (t_.stopped()) return;
  if (was_up)
    t_.host().link_down(*this, reason);
  else if (outbound_ && expected_)
    t_.connect_failed(expected_, reason);
  else if (outbound_) {
    t_.join_failed(reason);  // joining: a refusal is final
    std::fprintf(stderr, "troupe[%d] error: cannot join the cluster at %s: %s\n", ::getpid(), where_.c_str(),
                 reason.c_str());
  } else {
    char line[512];
    std::snprintf(line, sizeof line, "tcp: connection from %s dropped: %s", where_.c_str(), reason.c_str());
    std::fprintf(stderr, "troupe[%d] warn: %s\n", ::getpid(), line);
  }
}

// --- link: frames --------------------------------------------------------------

void tcp_link::read_more() {
  constexpr std::size_t chunk = 256 * 1024;
  // Keep the unparsed tail at the front, then make room to read into.
  if (in_start_ > 0) {
    std::size_t left = in_.size() - in_start_;
    if (left) std::memmove(in_.data(), in_.data() + in_start_, left);
    in_.resize(left);
    in_start_ = 0;
  }
  std::size_t have = in_.size();
  in_.resize(have + chunk);
  sock_.async_read_some(asio::buffer(in_.data() + have, chunk),
                        [self = shared_from_this(), have](std::error_code ec, std::size_t n) {
                          if (self->state_ != state::up) return;
                          self->in_.resize(have + (ec ? 0 : n));
                          if (ec)
                            return self->fail(ec == asio::error::eof ? "peer closed the connection"
                                                                     : "read failed: " + ec.message());
                          self->last_rx_ = clk::now();
                          self->parse();
                          if (self->state_ == state::up) self->read_more();
                        });
}

void tcp_link::parse() {
  while (state_ == state::up) {
    std::span<const std::byte> rest = in_.span().subspan(in_start_);
    if (rest.size() < frame_header::size) break;
    // Decoded straight into `h` (no copy of the header per frame).
    std::string bad;
    const frame_header h = [&] {
      try {
        return decode_header(rest, t_.limits());
      } catch (const frame_error& e) {
        bad = e.what();
        return frame_header{};
      }
    }();
    if (!bad.empty()) return fail("bad frame: " + bad);
    std::size_t total = frame_header::size + h.payload_size;
    if (rest.size() < total) {
      in_.reserve(in_start_ + total + 256 * 1024);  // a big frame: room for all of it
      break;
    }
    on_frame(h, rest.subspan(frame_header::size, h.payload_size));
    in_start_ += total;
  }
  if (in_start_ == in_.size()) {
    in_.clear();
    in_start_ = 0;
    in_.shrink_if_above(std::size_t{16} << 20);
  }
}

void tcp_link::on_frame(const frame_header& h, std::span<const std::byte> payload) {
  if (h.type == heartbeat_type && h.dst_actor == 0 && h.has(frame_flags::system)) return;
  if (h.type == directory_type && h.dst_actor == 0 && h.has(frame_flags::system)) {
    // entries: u64 node, u16 port, u8 host length, host
    std::size_t at = 0;
    while (at + 11 <= payload.size()) {
      std::uint64_t n = detail::load_le<std::uint64_t>(payload.data() + at);
      std::uint16_t port = detail::load_le<std::uint16_t>(payload.data() + at + 8);
      std::size_t len = std::to_integer<std::size_t>(payload[at + 10]);
      if (at + 11 + len > payload.size()) break;
      std::string host(reinterpret_cast<const char*>(payload.data() + at + 11), len);
      // Where the sender itself listens is known better from the connection
      // (it may have announced a wildcard address).
      if (n && n != t_.host().local_node() && n != peer_ && port) t_.learned(n, tcp_endpoint{host, port});
      at += 11 + len;
    }
    t_.directory_received(peer_, outbound_ && !expected_);
    return;
  }
  try {
    t_.host().deliver(*this, h, payload);
  } catch (const std::exception& e) {
    fail(std::string("bad frame: ") + e.what());
  }
}

bool tcp_link::congested() const noexcept { return queued_ > t_.options().send_queue_bytes; }

link::send_result tcp_link::send(std::span<const std::byte, frame_header::size> header,
                                 std::span<const std::byte> payload) {
  if (state_ != state::up) return send_result::closed;
  pending_.append(header.data(), header.size());
  pending_.append(payload.data(), payload.size());
  queued_ += header.size() + payload.size();
  if (!writing_) write_next();
  if (congested()) {
    was_congested_ = true;
    return send_result::congested;
  }
  return send_result::ok;
}

void tcp_link::queue_frame(const frame_header& h, std::span<const std::byte> payload) {
  std::array<std::byte, frame_header::size> hb;
  encode_header(h, hb);
  send(hb, payload);
}

// Writes everything queued so far in one write; what is sent meanwhile
// waits for the next.
// Everything queued so far goes out in one write; what is sent meanwhile
// waits for the next. The write is tried at once, with a non-blocking
// send(), holding the heartbeat thread's gate for that call only. What the
// socket does not take at once becomes the gate's tail, which this loop
// pushes on when the socket has room, and the heartbeat thread too when
// this loop has been busy for an interval: a loop that goes on to compute
// for a long time never leaves its link silent. Errors are reported from a
// handler, never from inside send().
void tcp_link::write_next() {
  if (pending_.empty() || state_ != state::up) return;
  std::span<const std::byte> carry;
  if (gate_) {
    gate_->lock();
    gate_held_ = true;
    carry = gate_->take_carry();
  }
  out_carry_ = carry.size();
  if (carry.empty()) {
    std::swap(out_, pending_);
  } else {
    out_.clear();
    out_.append(carry.data(), carry.size());
    out_.append(pending_.data(), pending_.size());
  }
  pending_.clear();
  writing_ = true;
  ssize_t n = ::send(sock_.native_handle(), out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return write_failed(errno);
  std::size_t done = n > 0 ? static_cast<std::size_t>(n) : 0;
  if (done == out_.size()) {
    release_gate();
    // Written; the completion runs later, as an asynchronous one would, so
    // that what is sent until then joins one write.
    asio::post(sock_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == state::up) self->write_done();
    });
    return;
  }
  if (gate_) gate_->set_tail(out_.data() + done, out_.size() - done);
  release_gate();
  if (!gate_) {  // (a link is up only with its gate)
    asio::async_write(sock_, asio::buffer(out_.data() + done, out_.size() - done),
                      [self = shared_from_this()](std::error_code ec, std::size_t) {
                        if (self->state_ != state::up) return;
                        if (ec) return self->fail("write failed: " + ec.message());
                        self->write_done();
                      });
    return;
  }
  wait_writable();
}

void tcp_link::wait_writable() {
  sock_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](std::error_code ec) {
    if (self->state_ != state::up) return;
    if (ec) return self->fail("write failed: " + ec.message());
    self->gate_->lock();
    self->gate_held_ = true;
    int error = 0;
    bool all_out = self->gate_->push_tail(error);
    if (error) return self->write_failed(error);
    self->release_gate();
    if (all_out)
      self->write_done();
    else
      self->wait_writable();
  });
}

void tcp_link::write_failed(int error) {
  release_gate();
  std::string why = std::string("write failed: ") + std::strerror(error);
  asio::post(sock_.get_executor(), [self = shared_from_this(), why] { self->fail(why); });
}

void tcp_link::write_done() {
  queued_ -= out_.size() - out_carry_;
  out_.clear();
  out_.shrink_if_above(std::size_t{16} << 20);
  writing_ = false;
  write_next();  // before telling the host: what it sends then joins the next write
  if (was_congested_ && queued_ <= t_.options().send_queue_bytes / 2) {
    was_congested_ = false;
    t_.host().link_writable(*this);
  }
}

// Heartbeats go out from the heartbeat thread; the loop checks that the
// peer's arrive. Silence counts only while this loop could have read: a
// check that comes late (an actor computed meanwhile, and what the peer
// sent waits unread) counts as one interval, however late it is.
void tcp_link::heartbeat() {
  timer_.expires_after(t_.options().heartbeat);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->state_ != state::up) return;
    auto now = clk::now();
    clk::duration interval = self->t_.options().heartbeat;
    clk::duration step = std::min(now - self->last_check_, interval);
    if (self->last_rx_ >= self->last_check_)
      self->quiet_ = std::min(now - self->last_rx_, step);
    else
      self->quiet_ += step;
    self->last_check_ = now;
    if (self->quiet_ > 3 * interval)
      return self->fail("no heartbeat from the peer for " +
                        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(self->quiet_).count()) +
                        " ms");
    self->heartbeat();
  });
}

void tcp_link::send_directory(const std::vector<std::pair<node_id, tcp_endpoint>>& entries, bool even_empty) {
  if (!up() || (entries.empty() && !even_empty)) return;
  detail::byte_buffer p;
  for (auto& [n, e] : entries) {
    std::byte b[11];
    detail::store_le<std::uint64_t>(b, n);
    detail::store_le<std::uint16_t>(b + 8, e.port);
    std::size_t len = std::min<std::size_t>(e.host.size(), 255);
    b[10] = std::byte(len);
    p.append(b, sizeof b);
    p.append(e.host.data(), len);
  }
  frame_header h;
  h.flags = frame_flags::system;
  h.type = directory_type;
  h.payload_size = static_cast<std::uint32_t>(p.size());
  h.dst_node = peer_;
  h.src_node = t_.host().local_node();
  queue_frame(h, p.span());
}

}  // namespace troupe::tcp_detail
