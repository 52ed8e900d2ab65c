#include "heartbeat_thread.hpp"

#include <troupe/detail/byte_buffer.hpp>
#include <troupe/transport/detail/byte_order.hpp>
#include <troupe/transport/tcp.hpp>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace troupe {
namespace {

using asio::ip::tcp;
using clk = std::chrono::steady_clock;

constexpr std::uint32_t hs_magic = 0x54505254;  // "TRPT"
constexpr std::uint16_t hs_version = 1;
enum hs_type : std::uint16_t { hs_hello = 1, hs_proof = 2, hs_reject = 3 };

// The handshake message: fixed size, little-endian integers, written and
// read field by field (docs/protocol.md).
struct hs_msg {
  static constexpr std::size_t size = 256;
  std::uint16_t type = 0;
  std::uint16_t version = hs_version;
  std::uint64_t node = 0;
  std::array<std::byte, wire_format::encoded_size> format{};
  std::array<std::byte, 32> nonce{};
  std::uint16_t listen_port = 0;
  std::string listen_host;  // up to 63 bytes
  std::array<std::byte, 32> proof{};
  std::string reason;  // up to 95 bytes

  void encode(std::array<std::byte, size>& out) const {
    out.fill(std::byte{0});
    detail::store_le<std::uint32_t>(&out[0], hs_magic);
    detail::store_le<std::uint16_t>(&out[4], version);
    detail::store_le<std::uint16_t>(&out[6], type);
    detail::store_le<std::uint64_t>(&out[8], node);
    std::memcpy(&out[16], format.data(), format.size());
    std::memcpy(&out[32], nonce.data(), nonce.size());
    detail::store_le<std::uint16_t>(&out[64], listen_port);
    std::memcpy(&out[66], listen_host.data(), std::min<std::size_t>(listen_host.size(), 63));
    std::memcpy(&out[130], proof.data(), proof.size());
    std::memcpy(&out[162], reason.data(), std::min<std::size_t>(reason.size(), 93));
  }
  // Returns an error text, or empty when well formed.
  std::string decode(const std::array<std::byte, size>& in) {
    if (detail::load_le<std::uint32_t>(&in[0]) != hs_magic) return "not a troupe node (bad handshake magic)";
    version = detail::load_le<std::uint16_t>(&in[4]);
    type = detail::load_le<std::uint16_t>(&in[6]);
    node = detail::load_le<std::uint64_t>(&in[8]);
    std::memcpy(format.data(), &in[16], format.size());
    std::memcpy(nonce.data(), &in[32], nonce.size());
    listen_port = detail::load_le<std::uint16_t>(&in[64]);
    auto text = [&](std::size_t at, std::size_t max) {
      const char* p = reinterpret_cast<const char*>(&in[at]);
      return std::string(p, strnlen(p, max));
    };
    listen_host = text(66, 63);
    std::memcpy(proof.data(), &in[130], proof.size());
    reason = text(162, 93);
    return {};
  }
};

std::string hex(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

// Transport-level frames, never handed to the host.
constexpr type_id heartbeat_type = 0x6f3f3bf1d0b6e1a1ull;  // troupe::tcp::heartbeat
constexpr type_id directory_type = 0x2c9b1f86a1d45e07ull;  // troupe::tcp::directory

std::array<std::byte, 32> proof_of(const std::string& secret, const char* role, const std::array<std::byte, 32>& a,
                                   const std::array<std::byte, 32>& b, node_id x, node_id y) {
  std::string msg = std::string("troupe-tcp-1|") + role + "|";
  msg.append(reinterpret_cast<const char*>(a.data()), a.size());
  msg.append(reinterpret_cast<const char*>(b.data()), b.size());
  for (node_id n : {x, y})
    for (int i = 0; i < 8; ++i) msg.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  std::array<std::byte, 32> out{};
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), reinterpret_cast<unsigned char*>(out.data()), &len);
  return out;
}

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

// --- transport ---------------------------------------------------------------------

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

}  // namespace

tcp_endpoint tcp_endpoint::parse(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument("bad address \"" + text + "\" (want [HOST]:PORT)");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("bad address \"" + text + "\" (want HOST:PORT)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (host.empty() || port.empty() || *end || p < 0 || p > 65535)
    throw std::invalid_argument("bad address \"" + text + "\" (want HOST:PORT)");
  return tcp_endpoint{host, static_cast<std::uint16_t>(p)};
}

std::string load_cluster_secret() {
  if (const char* c = std::getenv("TROUPE_COOKIE"); c && *c) return c;
  const char* file = std::getenv("TROUPE_COOKIE_FILE");
  if (!file || !*file) return {};
  struct stat st{};
  if (::stat(file, &st) != 0)
    throw std::runtime_error(std::string("cannot read the cluster secret file ") + file + ": " + std::strerror(errno));
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    throw std::runtime_error(std::string("the cluster secret file ") + file +
                             " is readable by others; make it readable by its owner only (chmod 600)");
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  std::string secret = s.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) throw std::runtime_error(std::string("the cluster secret file ") + file + " is empty");
  return secret;
}

std::unique_ptr<tcp_transport> make_tcp_transport(tcp_options opts) {
  return std::make_unique<tcp_transport_impl>(std::move(opts));
}

}  // namespace troupe
