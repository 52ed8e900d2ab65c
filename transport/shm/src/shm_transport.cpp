#include "idle_strategy.hpp"
#include "ring.hpp"

#include <troupe/detail/byte_buffer.hpp>
#include <troupe/transport/detail/byte_order.hpp>
#include <troupe/transport/shm.hpp>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace bi = boost::interprocess;

namespace troupe {
namespace {

using shm_detail::record_kind;
using shm_detail::ring_reader;
using shm_detail::ring_writer;
using clk = std::chrono::steady_clock;

constexpr std::uint32_t hs_magic = 0x4d485354;  // "TSHM"
constexpr std::uint16_t hs_version = 1;
constexpr int read_budget = 512;  // frames per link per poll, so actors get their turn
constexpr std::size_t publish_batch = 16 * 1024;  // unpublished bytes that make a writer publish at once
constexpr auto poll_slice = std::chrono::microseconds(200);  // longest stay in the tight poll loop

enum hs_type : std::uint16_t { hs_hello = 1, hs_mapped = 2, hs_reject = 3 };

struct hs_msg {
  std::uint32_t magic = hs_magic;
  std::uint16_t type = 0;
  std::uint16_t version = hs_version;
  std::uint64_t cluster = 0;
  std::uint64_t node = 0;
  std::uint64_t ring_bytes = 0;
  std::uint32_t pid = 0;
  std::uint32_t reserved = 0;
  std::byte format[wire_format::encoded_size] = {};
  char segment[64] = {};
  char reason[192] = {};
};

std::string hex(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::string errno_text(int e) { return std::strerror(e); }

sockaddr_un abstract_address(const std::string& name, socklen_t& len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  a.sun_path[0] = '\0';
  std::memcpy(a.sun_path + 1, name.data(), std::min(name.size(), sizeof(a.sun_path) - 2));
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + std::min(name.size(), sizeof(a.sun_path) - 2));
  return a;
}

bool send_msg(int fd, const hs_msg& m, int pass_fd = -1) {
  iovec iov{const_cast<hs_msg*>(&m), sizeof m};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  return ::sendmsg(fd, &h, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof m);
}

// Receives one message; returns bytes (0 = peer closed, -1 = would block or
// error in errno). A passed descriptor lands in `got_fd`.
ssize_t recv_msg(int fd, hs_msg& m, int& got_fd) {
  iovec iov{&m, sizeof m};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  h.msg_control = control;
  h.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(fd, &h, MSG_CMSG_CLOEXEC);
  if (n > 0)
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int passed;
        std::memcpy(&passed, CMSG_DATA(c), sizeof(int));
        if (got_fd >= 0) ::close(got_fd);
        got_fd = passed;
      }
  return n;
}

// Times this thread lost its core to another task (a sched_yield that let
// another task run counts too).
long involuntary_switches() noexcept {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return u.ru_nivcsw;
}

void wake(int efd) {
  if (efd < 0) return;
  std::uint64_t one = 1;
  ssize_t r = ::write(efd, &one, sizeof one);
  (void)r;  // EAGAIN means the counter is already nonzero: the peer wakes anyway
}

class shm_transport;

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
  std::unique_ptr<bi::mapped_region> own_region_;
  std::unique_ptr<bi::mapped_region> peer_region_;
  ring_reader reader_;
  ring_writer writer_;
  int peer_efd_ = -1;

  std::deque<pending_frame> outbox_;
  std::size_t unpublished_ = 0;
  bool dirty_ = false;  // in the transport's list of links to publish
  friend class shm_transport;
  detail::byte_buffer partial_;
  bool in_frame_ = false;
  std::size_t frame_expected_ = 0;
};

}  // namespace
}  // namespace troupe

namespace troupe {
namespace {

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
    if (l->dirty_) return;
    l->dirty_ = true;
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
    for (auto& l : dirty_) {
      l->dirty_ = false;
      l->publish();
    }
    dirty_.clear();
  }
  bool stopped() const { return stopped_; }

 private:
  static shm_detail::idle_strategy::settings idle_settings(const shm_options& o) {
    shm_detail::idle_strategy::settings s;
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
  shm_detail::idle_strategy idle_;
  long switches_ = 0;  // involuntary context switches at the last yield
  std::uint64_t segments_ = 0;
};

// --- link -------------------------------------------------------------------

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
  std::size_t size = shm_detail::data_offset + t_.options().ring_bytes;
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
  shm_detail::init_ring(own_region_->get_address(), t_.options().ring_bytes, static_cast<std::uint32_t>(::getpid()));
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
    if (!shm.get_size(size) || static_cast<std::size_t>(size) != shm_detail::data_offset + ring_bytes)
      return reject("segment " + name + " has the wrong size");
    peer_region_ = std::make_unique<bi::mapped_region>(shm, bi::read_write);
  } catch (const std::exception& e) {
    return reject("cannot open segment " + name + ": " + e.what());
  }
  auto* ctl = static_cast<shm_detail::ring_control*>(peer_region_->get_address());
  if (ctl->magic != shm_detail::ring_magic || ctl->capacity != ring_bytes) return reject("segment " + name + " is not a troupe ring");
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
    std::array<std::byte, shm_detail::compact_header_size> c{};
    std::memcpy(c.data() + 0, header.data() + 8, 4);    // payload size
    std::memcpy(c.data() + 4, header.data() + 5, 1);    // flags
    std::memcpy(c.data() + 8, header.data() + 16, 8);   // type
    std::memcpy(c.data() + 16, header.data() + 32, 8);  // destination actor
    std::memcpy(c.data() + 24, header.data() + 48, 8);  // source actor
    std::memcpy(c.data() + 32, header.data() + 56, 8);  // correlation
    if (writer_.try_write(shm_detail::compact, c, payload)) {
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
      if (!writer_.try_write(written == 0 ? shm_detail::first : shm_detail::middle, a, b)) break;
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
        ok = writer_.try_write(shm_detail::whole, all);
        if (ok) f.offset = all.size();
      } else {
        std::size_t chunk = std::min(left, writer_.max_record());
        record_kind kind = fresh ? shm_detail::first : chunk == left ? shm_detail::last : shm_detail::middle;
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
  if (bytes.size() < shm_detail::compact_header_size) return fail("short compact record from node " + hex(peer_));
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
  if (h.payload_size != bytes.size() - shm_detail::compact_header_size || (h.flags & ~frame_flags::known) ||
      zero[0] | zero[1] | zero[2] || h.payload_size > t_.limits().max_payload)
    return fail("garbled compact record from node " + hex(peer_));
  h.dst_node = t_.host().local_node();
  h.src_node = peer_;
  try {
    t_.host().deliver(*this, h, bytes.subspan(shm_detail::compact_header_size));
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
      case shm_detail::whole:
        if (in_frame_) return fail("chunked frame interrupted"), count;
        deliver_frame(r.bytes);
        break;
      case shm_detail::compact:
        if (in_frame_) return fail("chunked frame interrupted"), count;
        deliver_compact(r.bytes);
        break;
      case shm_detail::first: {
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
      case shm_detail::middle:
      case shm_detail::last:
        if (!in_frame_ || partial_.size() + r.bytes.size() > frame_expected_)
          return fail("chunk out of place in the ring"), count;
        partial_.append(r.bytes.data(), r.bytes.size());
        if (r.kind == shm_detail::last) {
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

// --- transport ------------------------------------------------------------------

void shm_transport::start(transport_host& host) {
  host_ = &host;
  limits_ = &host.limits();
  io_ = &host.io_context();
  cleanup_stale_segments();
  efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd_ < 0) throw std::runtime_error("shm transport: eventfd: " + errno_text(errno));
  efd_watch_ = std::make_unique<asio::posix::stream_descriptor>(*io_, ::dup(efd_));
  ::fcntl(efd_watch_->native_handle(), F_SETFD, FD_CLOEXEC);

  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("shm transport: socket: " + errno_text(errno));
  socklen_t len;
  sockaddr_un addr = abstract_address(shm_socket_name(host.cluster_id(), host.local_node()), len);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 128) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("shm transport: cannot listen as node " + hex(host.local_node()) + ": " + errno_text(e));
  }
  listener_ = std::make_unique<asio::posix::stream_descriptor>(*io_, fd);
  accept_next();
  idle_.on_activity(clk::now());
  sleep();
}

void shm_transport::stop() {
  if (stopped_) return;
  publish_all();  // what was written reaches the peers, which drain the rings when the links close
  stopped_ = true;
  auto links = links_;
  for (auto& l : links) l->fail("transport stopped");
  links_.clear();
  std::error_code ec;
  if (listener_) listener_->close(ec);
  if (efd_watch_) efd_watch_->close(ec);
  if (efd_ >= 0) ::close(efd_);
  efd_ = -1;
}

void shm_transport::accept_next() {
  listener_->async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code ec) {
    if (ec || stopped_) return;
    for (;;) {
      int fd = ::accept4(listener_->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      auto l = std::make_shared<shm_link>(*this, fd, false, 0);
      links_.push_back(l);
      l->begin();
    }
    accept_next();
  });
}

bool shm_transport::connect(node_id peer) {
  if (stopped_) return false;
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  socklen_t len;
  sockaddr_un addr = abstract_address(shm_socket_name(host_->cluster_id(), peer), len);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS && errno != EAGAIN) {
    ::close(fd);  // nobody of this cluster listens for that node on this machine
    return false;
  }
  auto l = std::make_shared<shm_link>(*this, fd, true, peer);
  links_.push_back(l);
  l->begin();
  return true;
}

// While traffic is hot the transport stays in a tight loop: read the rings,
// run the actors that became ready, publish what they wrote, again. That
// answers a message without a trip through the event loop. It leaves the
// loop after a slice, so timers and sockets get their turn. Once nothing
// comes, the idle strategy says how to wait: spin, yield the core, or sleep
// on the eventfd (idle_strategy.hpp).
void shm_transport::poll() {
  poll_posted_ = false;
  if (stopped_) return;
  auto start = clk::now();
  auto now = start;
  idle_.on_resume(now);
  bool yielding = false;
  for (unsigned iteration = 0;; ++iteration) {
    int n = 0;
    graveyard_.clear();
    // Links may close (and leave links_) while being polled; index, and
    // re-check the size, rather than iterate.
    for (std::size_t i = 0; i < links_.size(); ++i) {
      shm_link* l = links_[i].get();
      if (l->has_outbox()) n += l->flush_outbox() ? 1 : 0;
      n += l->read_some();
    }
    if (n) {
      host_->run_ready();
      publish_all();
    }
    if (stopped_) return;
    if (n) {
      now = clk::now();
      idle_.on_activity(now);
      yielding = false;
    } else if (yielding || iteration % 16 == 0) {
      // The clock is read every few polls while spinning, at every one
      // while yielding (a yield costs far more than the reading).
      now = clk::now();
      switch (idle_.next(now)) {
        case shm_detail::idle_action::spin:
          yielding = false;
          break;
        case shm_detail::idle_action::yield: {
          // One reading per yield: compared with the last one, whenever
          // that was (a switch since then is as good a sign).
          ::sched_yield();
          long switches = involuntary_switches();
          now = clk::now();
          idle_.after_yield(switches != switches_, now);
          switches_ = switches;
          yielding = true;
          break;
        }
        case shm_detail::idle_action::park:
          return sleep();
      }
    }
    if (now - start >= poll_slice) return start_polling();
  }
}

void shm_transport::sleep() {
  bool data = false;
  for (auto& l : links_) data |= l->prepare_sleep();
  if (data) {
    for (auto& l : links_) l->cancel_sleep();
    idle_.on_activity(clk::now());
    return start_polling();
  }
  if (waiting_) return;
  waiting_ = true;
  efd_watch_->async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code ec) {
    waiting_ = false;
    if (ec || stopped_) return;
    std::uint64_t v;
    while (::read(efd_, &v, sizeof v) > 0) {
    }
    for (auto& l : links_) l->cancel_sleep();
    idle_.on_activity(clk::now());
    start_polling();
  });
}

}  // namespace

shm_options shm_options::from_env() {
  shm_options o;
  if (const char* v = std::getenv("TROUPE_SHM_RING_BYTES")) o.ring_bytes = std::strtoull(v, nullptr, 10);
  if (const char* v = std::getenv("TROUPE_SHM_SPIN_US")) o.spin = std::chrono::microseconds(std::strtoll(v, nullptr, 10));
  if (const char* v = std::getenv("TROUPE_SHM_YIELD_US"))
    o.yield = std::chrono::microseconds(std::strtoll(v, nullptr, 10));
  return o;
}

std::unique_ptr<transport> make_shm_transport(const shm_options& opts) { return std::make_unique<shm_transport>(opts); }

std::string shm_socket_name(std::uint64_t cluster, node_id node) {
  return "troupe-" + hex(cluster) + "-" + hex(node);
}

std::size_t cleanup_stale_segments() {
  std::size_t removed = 0;
  DIR* d = ::opendir("/dev/shm");
  if (!d) return 0;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    // troupe-<cluster hex>-<creator pid>-<n>
    std::string name = e->d_name;
    if (name.rfind("troupe-", 0) != 0) continue;
    auto a = name.find('-', 7);
    if (a == std::string::npos) continue;
    auto b = name.find('-', a + 1);
    if (b == std::string::npos) continue;
    long pid = std::strtol(name.substr(a + 1, b - a - 1).c_str(), nullptr, 10);
    if (pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  ::closedir(d);
  for (auto& n : stale)
    if (bi::shared_memory_object::remove(n.c_str())) ++removed;
  return removed;
}

}  // namespace troupe
