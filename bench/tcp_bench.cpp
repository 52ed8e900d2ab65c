// TCP figures: troupe nodes in two processes over loopback, and the bare
// limit measured in the same run: 64-byte messages with a 4-byte length
// prefix (68-byte frames) between
// two forked processes over plain sockets, with batched writes.
#include "bench.hpp"

#include <troupe/troupe.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
using namespace troupe;

struct tcp_msg64 {
  std::uint64_t seq = 0;
  char pad[56] = {};
};

}  // namespace

TROUPE_MESSAGE(tcp_msg64);

namespace {

task<void> tcp_sender(actor& self, actor_ref to, std::uint64_t n) {
  tcp_msg64 m;
  for (std::uint64_t i = 0; i < n; ++i) {
    m.seq = i;
    self.send(to, m);
    co_await self.throttle();
  }
}
TROUPE_ACTOR(tcp_sender);

task<void> tcp_echo_actor(actor& self) {
  for (;;) {
    auto m = co_await self.receive<tcp_msg64>();
    self.send(m.sender(), *m);
  }
}
TROUPE_ACTOR(tcp_echo_actor);

// A troupe program whose second process speaks TCP only, over loopback.
template <class F>
void tcp_program(F&& root) {
  ::setenv("TROUPE_LISTEN", "127.0.0.1:0", 1);
  ::setenv("TROUPE_COOKIE", "troupe-bench", 1);
  troupe::run(bench::argc, bench::argv, std::forward<F>(root));
  ::unsetenv("TROUPE_LISTEN");
  ::unsetenv("TROUPE_COOKIE");
}

const std::vector<std::pair<std::string, std::string>> tcp_only{{"TROUPE_TRANSPORTS", "tcp"}};

double tcp_msgs_per_s() {
  constexpr std::uint64_t n = 2'000'000;
  double rate = 0;
  tcp_program([&](actor& self) -> task<void> {
    process_options opts{.env = tcp_only};
    process p = co_await self.spawn_process(std::move(opts));
    co_await self.spawn(p, tcp_sender, self.ref(), n);
    co_await self.receive<tcp_msg64>();
    auto t0 = clk::now();
    for (std::uint64_t i = 1; i < n; ++i) co_await self.receive<tcp_msg64>();
    rate = (n - 1) / std::chrono::duration<double>(clk::now() - t0).count();
  });
  return rate;
}

double tcp_rtt_ns() {
  constexpr int rounds = 20'000;
  std::vector<std::int64_t> rtt;
  tcp_program([&](actor& self) -> task<void> {
    process_options opts{.env = tcp_only};
    process p = co_await self.spawn_process(std::move(opts));
    actor_ref e = co_await self.spawn(p, tcp_echo_actor);
    tcp_msg64 m;
    for (int i = 0; i < rounds + 500; ++i) {
      m.seq = i;
      auto t0 = clk::now();
      self.send(e, m);
      co_await self.receive<tcp_msg64>();
      if (i >= 500) rtt.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now() - t0).count());
    }
  });
  std::sort(rtt.begin(), rtt.end());
  return rtt.empty() ? -1 : static_cast<double>(rtt[rtt.size() / 2]);
}

// --- the bare baseline ---------------------------------------------------------------

struct socket_pair {
  int server = -1, client = -1;
};

socket_pair connected_pair() {
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  ::listen(l, 1);
  socket_pair p;
  p.client = ::socket(AF_INET, SOCK_STREAM, 0);
  ::connect(p.client, reinterpret_cast<sockaddr*>(&a), sizeof a);
  p.server = ::accept(l, nullptr, nullptr);
  ::close(l);
  int one = 1;
  ::setsockopt(p.client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(p.server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return p;
}

bool read_all(int fd, void* p, std::size_t n) {
  auto* c = static_cast<char*>(p);
  while (n) {
    ssize_t r = ::read(fd, c, n);
    if (r <= 0) return false;
    c += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

constexpr std::size_t frame_bytes = 4 + 64;  // length prefix + message

double raw_tcp_msgs_per_s() {
  constexpr std::uint64_t n = 2'000'000;
  socket_pair s = connected_pair();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(s.server);
    std::vector<char> batch(256 * frame_bytes, 0);
    for (std::size_t i = 0; i < 256; ++i) {
      std::uint32_t len = 64;
      std::memcpy(&batch[i * frame_bytes], &len, 4);
    }
    for (std::uint64_t sent = 0; sent < n; sent += 256) {
      std::size_t k = std::min<std::uint64_t>(256, n - sent);
      if (::write(s.client, batch.data(), k * frame_bytes) < 0) break;  // one write per batch
    }
    ::close(s.client);
    ::_exit(0);
  }
  ::close(s.client);
  std::vector<char> buf(1 << 20);
  std::uint64_t frames = 0, bytes = 0;
  clk::time_point t0{};
  for (;;) {
    ssize_t r = ::read(s.server, buf.data(), buf.size());
    if (r <= 0) break;
    if (bytes == 0) t0 = clk::now();
    bytes += static_cast<std::uint64_t>(r);
    frames = bytes / frame_bytes;  // every frame parsed by length: all are 64 bytes here
  }
  double secs = std::chrono::duration<double>(clk::now() - t0).count();
  ::close(s.server);
  ::waitpid(pid, nullptr, 0);
  return frames == n ? n / secs : -1;
}

double raw_tcp_rtt_ns() {
  constexpr int rounds = 20'000;
  socket_pair s = connected_pair();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(s.server);
    char f[frame_bytes];
    while (read_all(s.client, f, frame_bytes))
      if (::write(s.client, f, frame_bytes) < 0) break;
    ::_exit(0);
  }
  ::close(s.client);
  char f[frame_bytes] = {64};
  std::vector<std::int64_t> rtt;
  for (int i = 0; i < rounds + 500; ++i) {
    auto t0 = clk::now();
    if (::write(s.server, f, frame_bytes) < 0 || !read_all(s.server, f, frame_bytes)) break;
    if (i >= 500) rtt.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now() - t0).count());
  }
  ::close(s.server);
  ::waitpid(pid, nullptr, 0);
  std::sort(rtt.begin(), rtt.end());
  return rtt.empty() ? -1 : static_cast<double>(rtt[rtt.size() / 2]);
}

bench::registrar r1("raw_tcp_msgs_per_s", "64-byte length-prefixed frames/s over bare loopback sockets",
                    raw_tcp_msgs_per_s);
bench::registrar r2("tcp_msgs_per_s", "64-byte messages/s between two nodes over TCP loopback", tcp_msgs_per_s);
bench::registrar r3("raw_tcp_rtt_ns", "median ns per round trip over bare loopback sockets", raw_tcp_rtt_ns);
bench::registrar r4("tcp_rtt_ns", "median ns per round trip between two nodes over TCP loopback", tcp_rtt_ns);

}  // namespace
