#include "shm_transport.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace troupe::shm_detail {
namespace {

using clk = std::chrono::steady_clock;

constexpr auto poll_slice = std::chrono::microseconds(200);  // longest stay in the tight poll loop

std::string errno_text(int e) { return std::strerror(e); }

// Times this thread lost its core to another task (a sched_yield that let
// another task run counts too).
long involuntary_switches() noexcept {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return u.ru_nivcsw;
}

}  // namespace

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
        case idle_action::spin:
          yielding = false;
          break;
        case idle_action::yield: {
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
        case idle_action::park:
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

}  // namespace troupe::shm_detail

namespace troupe {

shm_options shm_options::from_env() {
  shm_options o;
  if (const char* v = std::getenv("TROUPE_SHM_RING_BYTES")) o.ring_bytes = std::strtoull(v, nullptr, 10);
  if (const char* v = std::getenv("TROUPE_SHM_SPIN_US")) o.spin = std::chrono::microseconds(std::strtoll(v, nullptr, 10));
  if (const char* v = std::getenv("TROUPE_SHM_YIELD_US"))
    o.yield = std::chrono::microseconds(std::strtoll(v, nullptr, 10));
  return o;
}

std::unique_ptr<transport> make_shm_transport(const shm_options& opts) { return std::make_unique<shm_detail::shm_transport>(opts); }

}  // namespace troupe
