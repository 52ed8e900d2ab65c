#include "shm_link.hpp"

#include "shm_transport.hpp"

#include <troupe/transport/detail/byte_order.hpp>

#include <boost/interprocess/shared_memory_object.hpp>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bi = boost::interprocess;

namespace troupe::shm_detail {
namespace {

constexpr int read_budget = 512;  // frames per link per poll, so actors get their turn
constexpr std::size_t publish_batch = 16 * 1024;  // unpublished bytes that make a writer publish at once

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

void wake(int efd) {
  if (efd < 0) return;
  std::uint64_t one = 1;
  ssize_t r = ::write(efd, &one, sizeof one);
  (void)r;  // EAGAIN means the counter is already nonzero: the peer wakes anyway
}

shm_link::shm_link(shm_transport& t, int fd, bool outbound, node_id expected_peer)
    : t_(t), sock_(t.io(), fd), outbound_(outbound), expected_peer_(expected_peer) {}

void shm_link::begin() {
  // Refuse processes of other users: abstract sockets carry no permissions.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::getuid())
    return fail("peer process belongs to another user");
  peer_pid_ = cred.pid;
  if (!create_own_segment()) return;
  hs_msg m;
  m.type = hs_hello;
  m.cluster = t_.host().cluster_id();
  m.node = t_.host().local_node();
  m.ring_bytes = t_.options().ring_bytes;
  m.pid = static_cast<std::uint32_t>(::getpid());
  wire_format::local().encode(std::span<std::byte, wire_format::encoded_size>(m.format));
  std::snprintf(m.segment, sizeof m.segment, "%s", own_name_.c_str());
  if (!send_msg(sock_.native_handle(), m, t_.eventfd())) return fail("cannot send hello: " + errno_text(errno));
  watch_socket();
}

bool shm_link::create_own_segment() {
  own_name_ = t_.next_segment_name();
  std::size_t size = data_offset + t_.options().ring_bytes;
  try {
    bi::permissions perms;
    perms.set_permissions(0600);
    bi::shared_memory_object shm(bi::create_only, own_name_.c_str(), bi::read_write, perms);
    shm.truncate(static_cast<bi::offset_t>(size));
    own_region_ = std::make_unique<bi::mapped_region>(shm, bi::read_write, 0, size);
  } catch (const std::exception& e) {
    unlink_own_segment();
    fail("cannot create shared memory segment " + own_name_ + ": " + e.what());
    return false;
  }
  init_ring(own_region_->get_address(), t_.options().ring_bytes, static_cast<std::uint32_t>(::getpid()));
  reader_ = ring_reader(own_region_->get_address());
  return true;
}

void shm_link::unlink_own_segment() noexcept {
  if (own_name_.empty()) return;
  bi::shared_memory_object::remove(own_name_.c_str());
  own_name_.clear();
}

void shm_link::watch_socket() {
  auto self = shared_from_this();
  sock_.async_wait(asio::posix::descriptor_base::wait_read, [self](std::error_code ec) {
    if (ec || self->state_ == state::closed) return;
    self->on_socket_readable();
  });
}

void shm_link::on_socket_readable() {
  hs_msg m;
  int passed = -1;
  ssize_t n = recv_msg(sock_.native_handle(), m, passed);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return watch_socket();
  if (n <= 0) {
    if (passed >= 0) ::close(passed);
    if (state_ == state::up) {
      // Frames the peer published before it went are still good.
      while (read_some() > 0 && state_ == state::up) {
      }
      return fail("process " + std::to_string(peer_pid_) + " closed the link (it exited or was killed)");
    }
    return fail(n == 0 ? "peer closed the connection during the handshake" : "handshake failed: " + errno_text(errno));
  }
  if (n != sizeof m || m.magic != hs_magic) {
    if (passed >= 0) ::close(passed);
    return fail("garbled handshake message");
  }
  on_handshake(m, passed);
  if (state_ != state::closed) watch_socket();
}

void shm_link::on_handshake(const hs_msg& m, int passed_fd) {
  if (m.type == hs_reject) {
    if (passed_fd >= 0) ::close(passed_fd);
    std::string why(m.reason, strnlen(m.reason, sizeof m.reason));
    return fail("peer refused the link: " + why);
  }
  if (m.type == hs_mapped) {
    if (passed_fd >= 0) ::close(passed_fd);
    peer_mapped_ = true;
    unlink_own_segment();  // the peer has it mapped; nobody else needs the name
    return maybe_up();
  }
  if (m.type != hs_hello || hello_done_) {
    if (passed_fd >= 0) ::close(passed_fd);
    return reject("unexpected handshake message");
  }
  if (m.version != hs_version) {
    if (passed_fd >= 0) ::close(passed_fd);
    return reject("shm handshake version " + std::to_string(m.version) + " is not " + std::to_string(hs_version));
  }
  if (passed_fd < 0) return reject("hello without an eventfd");
  peer_efd_ = passed_fd;
  if (m.cluster != t_.host().cluster_id()) return reject("node of another cluster (" + hex(m.cluster) + ")");
  wire_format peer_format = wire_format::decode(std::span<const std::byte, wire_format::encoded_size>(m.format));
  if (auto why = wire_format::local().incompatibility(peer_format)) return reject(*why);
  if (expected_peer_ && m.node != expected_peer_)
    return reject("expected node " + hex(expected_peer_) + ", reached node " + hex(m.node));
  if (m.node == 0 || m.node == t_.host().local_node()) return reject("bad node id " + hex(m.node));
  std::size_t ring_bytes = m.ring_bytes;
  if (ring_bytes < 4096 || (ring_bytes & (ring_bytes - 1)) || ring_bytes > (std::size_t{1} << 34))
    return reject("bad ring size " + std::to_string(ring_bytes));
  peer_ = m.node;
  std::string name(m.segment, strnlen(m.segment, sizeof m.segment));
  if (name.rfind("troupe-", 0) != 0) return reject("bad segment name");
  peer_segment_ = name;
  try {
    bi::shared_memory_object shm(bi::open_only, name.c_str(), bi::read_write);
    bi::offset_t size = 0;
    if (!shm.get_size(size) || static_cast<std::size_t>(size) != data_offset + ring_bytes)
      return reject("segment " + name + " has the wrong size");
    peer_region_ = std::make_unique<bi::mapped_region>(shm, bi::read_write);
  } catch (const std::exception& e) {
    return reject("cannot open segment " + name + ": " + e.what());
  }
  auto* ctl = static_cast<ring_control*>(peer_region_->get_address());
  if (ctl->magic != ring_magic || ctl->capacity != ring_bytes) return reject("segment " + name + " is not a troupe ring");
  writer_ = ring_writer(peer_region_->get_address());
  hello_done_ = true;
  hs_msg ack;
  ack.type = hs_mapped;
  ack.node = t_.host().local_node();
  if (!send_msg(sock_.native_handle(), ack)) return fail("cannot send handshake: " + errno_text(errno));
  maybe_up();
}

void shm_link::maybe_up() {
  if (state_ != state::handshaking || !hello_done_ || !peer_mapped_) return;
  state_ = state::up;
  reported_up_ = true;
  t_.link_ready(shared_from_this());
}

void shm_link::reject(const std::string& reason) {
  hs_msg m;
  m.type = hs_reject;
  std::snprintf(m.reason, sizeof m.reason, "%s", reason.c_str());
  send_msg(sock_.native_handle(), m);
  fail("refused a link: " + reason);
}

void shm_link::fail(const std::string& reason) {
  if (state_ == state::closed) return;
  bool was_up = reported_up_;
  state_ = state::closed;
  auto keep = shared_from_this();
  std::error_code ec;
  sock_.cancel(ec);
  release();
  t_.forget(this);
  if (t_.stopped()) return;
  if (was_up)
    t_.host().link_down(*this, reason);
  else if (outbound_)
    t_.host().connect_failed(expected_peer_, reason);
}

void shm_link::release() noexcept {
  unlink_own_segment();
  // The peer unlinks its segment once we have mapped it; if it died before,
  // nobody else would (ENOENT when it did is fine).
  if (!peer_segment_.empty()) bi::shared_memory_object::remove(peer_segment_.c_str());
  peer_segment_.clear();
  if (sock_.is_open()) {
    std::error_code ec;
    sock_.close(ec);
  }
  if (peer_efd_ >= 0) {
    ::close(peer_efd_);
    peer_efd_ = -1;
  }
  reader_ = ring_reader();
  writer_ = ring_writer();
  own_region_.reset();
  peer_region_.reset();
  outbox_.clear();
  partial_.clear();
}

link::send_result shm_link::send(std::span<const std::byte, frame_header::size> header,
                                 std::span<const std::byte> payload) {
  if (state_ != state::up) return send_result::closed;
  std::size_t total = header.size() + payload.size();
  if (outbox_.empty() && total <= writer_.max_record()) {
    // The common case: a compact record, 24 bytes shorter per message.
    std::array<std::byte, compact_header_size> c{};
    std::memcpy(c.data() + 0, header.data() + 8, 4);    // payload size
    std::memcpy(c.data() + 4, header.data() + 5, 1);    // flags
    std::memcpy(c.data() + 8, header.data() + 16, 8);   // type
    std::memcpy(c.data() + 16, header.data() + 32, 8);  // destination actor
    std::memcpy(c.data() + 24, header.data() + 48, 8);  // source actor
    std::memcpy(c.data() + 32, header.data() + 56, 8);  // correlation
    if (writer_.try_write(compact, c, payload)) {
      // Publishing costs a full fence and moves a cache line to the reader:
      // do it once per batch, at the latest when this turn of the event
      // loop ends.
      unpublished_ += total;
      if (unpublished_ >= publish_batch)
        publish();
      else
        t_.schedule_publish(this);
      return send_result::ok;
    }
  }
  // A frame larger than a record goes out in chunks; write what fits now
  // straight from the caller's bytes, and copy only the rest.
  std::size_t written = 0;
  if (outbox_.empty() && total > writer_.max_record()) {
    std::size_t chunk = writer_.max_record();
    bool wrote = false;
    while (written < total) {
      std::size_t n = std::min(chunk, total - written);
      if (written + n == total) break;  // the last chunk goes through the outbox path below
      std::span<const std::byte> a, b;
      if (written < header.size()) {
        std::size_t from_header = std::min(n, header.size() - written);
        a = std::span<const std::byte>(header).subspan(written, from_header);
        b = payload.first(n - from_header);
      } else {
        a = payload.subspan(written - header.size(), n);
      }
      if (!writer_.try_write(written == 0 ? first : middle, a, b)) break;
      written += n;
      wrote = true;
    }
    if (wrote) publish();
  }
  pending_frame f;
  f.started = written > 0;
  f.buf.reserve(total - written);
  if (written < header.size()) f.buf.append(header.data() + written, header.size() - written);
  std::size_t from_payload = written > header.size() ? written - header.size() : 0;
  f.buf.append(payload.data() + from_payload, payload.size() - from_payload);
  outbox_.push_back(std::move(f));
  flush_outbox(false);  // no link_writable from inside send: the host is in the middle of sending
  if (outbox_.empty()) return send_result::ok;
  t_.start_polling();
  return send_result::congested;
}

bool shm_link::flush_outbox(bool notify) {
  if (state_ != state::up) return false;
  bool moved = false;
  for (int attempt = 0; attempt < 2 && !outbox_.empty(); ++attempt) {
    while (!outbox_.empty()) {
      pending_frame& f = outbox_.front();
      std::span<const std::byte> all = f.buf.span();
      std::size_t left = all.size() - f.offset;
      bool ok;
      bool fresh = f.offset == 0 && !f.started;
      if (fresh && left <= writer_.max_record()) {
        ok = writer_.try_write(whole, all);
        if (ok) f.offset = all.size();
      } else {
        std::size_t chunk = std::min(left, writer_.max_record());
        record_kind kind = fresh ? first : chunk == left ? last : middle;
        ok = writer_.try_write(kind, all.subspan(f.offset, chunk));
        if (ok) f.offset += chunk;
      }
      if (!ok) break;
      moved = true;
      if (f.offset == all.size()) outbox_.pop_front();
    }
    if (moved || unpublished_) publish();
    // Out of room: tell the consumer to wake us when it frees some, then
    // look once more in case it already did.
    if (!outbox_.empty() && !writer_.wait_for_room(writer_.max_record() + 64)) break;
  }
  if (notify && moved && outbox_.empty()) t_.host().link_writable(*this);
  return moved;
}

void shm_link::deliver_compact(std::span<const std::byte> bytes) {
  if (bytes.size() < compact_header_size) return fail("short compact record from node " + hex(peer_));
  // The fields are the frame header's, copied as they were encoded:
  // little-endian (send() above).
  frame_header h;
  const std::byte* p = bytes.data();
  std::uint8_t zero[3] = {detail::load_le<std::uint8_t>(p + 5), detail::load_le<std::uint8_t>(p + 6),
                          detail::load_le<std::uint8_t>(p + 7)};
  h.payload_size = detail::load_le<std::uint32_t>(p + 0);
  h.flags = detail::load_le<std::uint8_t>(p + 4);
  h.type = detail::load_le<std::uint64_t>(p + 8);
  h.dst_actor = detail::load_le<std::uint64_t>(p + 16);
  h.src_actor = detail::load_le<std::uint64_t>(p + 24);
  h.correlation = detail::load_le<std::uint64_t>(p + 32);
  if (h.payload_size != bytes.size() - compact_header_size || (h.flags & ~frame_flags::known) ||
      zero[0] | zero[1] | zero[2] || h.payload_size > t_.limits().max_payload)
    return fail("garbled compact record from node " + hex(peer_));
  h.dst_node = t_.host().local_node();
  h.src_node = peer_;
  try {
    t_.host().deliver(*this, h, bytes.subspan(compact_header_size));
  } catch (const std::exception& e) {
    fail(std::string("bad frame from node ") + hex(peer_) + ": " + e.what());
  }
}

void shm_link::deliver_frame(std::span<const std::byte> bytes) {
  try {
    frame_view v = decode_frame(bytes, t_.limits());
    t_.host().deliver(*this, v.header, v.payload);
  } catch (const std::exception& e) {
    fail(std::string("bad frame from node ") + hex(peer_) + ": " + e.what());
  }
}

int shm_link::read_some() {
  if (state_ != state::up) return 0;
  int count = 0;
  ring_reader::record r;
  while (count < read_budget && state_ == state::up) {
    auto st = reader_.next(r);
    if (st == ring_reader::status::empty) break;
    if (st == ring_reader::status::corrupt) {
      fail("corrupt ring from node " + hex(peer_));
      return count;
    }
    ++count;
    switch (r.kind) {
      case whole:
        if (in_frame_) return fail("chunked frame interrupted"), count;
        deliver_frame(r.bytes);
        break;
      case compact:
        if (in_frame_) return fail("chunked frame interrupted"), count;
        deliver_compact(r.bytes);
        break;
      case first: {
        if (in_frame_) return fail("chunked frame interrupted"), count;
        frame_header h;
        try {
          h = decode_header(r.bytes, t_.limits());
        } catch (const std::exception& e) {
          return fail(std::string("bad frame from node ") + hex(peer_) + ": " + e.what()), count;
        }
        frame_expected_ = frame_header::size + h.payload_size;
        if (r.bytes.size() >= frame_expected_) return fail("chunked frame shorter than its first chunk"), count;
        partial_.clear();
        partial_.reserve(frame_expected_);
        partial_.append(r.bytes.data(), r.bytes.size());
        in_frame_ = true;
        break;
      }
      case middle:
      case last:
        if (!in_frame_ || partial_.size() + r.bytes.size() > frame_expected_)
          return fail("chunk out of place in the ring"), count;
        partial_.append(r.bytes.data(), r.bytes.size());
        if (r.kind == last) {
          in_frame_ = false;
          if (partial_.size() != frame_expected_) return fail("chunked frame of the wrong length"), count;
          deliver_frame(partial_.span());
          partial_.clear();
          partial_.shrink_if_above(std::size_t{16} << 20);
        }
        break;
      default:
        return fail("corrupt ring"), count;
    }
    if (state_ != state::up) return count;
    reader_.consume();
  }
  if (count && state_ == state::up && reader_.flush()) wake(peer_efd_);
  return count;
}

}  // namespace troupe::shm_detail
