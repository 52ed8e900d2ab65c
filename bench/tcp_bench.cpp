// TCP figures: troupe nodes in two processes over loopback, and the bare
// limit measured in the same run: the same 128-byte frames (troupe's
// header and a 64-byte message), each built and parsed with the
// transport's frame codec, between two forked processes over plain
// sockets with the same options (TCP_NODELAY), writes batched.
#include "bench.hpp"

#include <troupe/transport/frame.hpp>
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

// Frames as troupe's TCP link carries a 64-byte trivially copyable message:
// a 64-byte header (encoded and decoded with the transport's own codec)
// and the message's bytes.
constexpr std::size_t frame_bytes = frame_header::size + sizeof(tcp_msg64);

void build_frame(std::byte* out, std::uint64_t seq) {
  frame_header h;
  h.flags = frame_flags::raw;
  h.payload_size = sizeof(tcp_msg64);
  h.type = 0x5452505042454e43ull;
  h.dst_node = 2;
  h.dst_actor = (std::uint64_t{1} << 32) | 1;
  h.src_node = 1;
  h.src_actor = (std::uint64_t{1} << 32) | 2;
  encode_header(h, std::span<std::byte, frame_header::size>(out, frame_header::size));
  tcp_msg64 m;
  m.seq = seq;
  std::memcpy(out + frame_header::size, &m, sizeof m);
}

// Parses one frame at `in` (all of it present); false if it is not the
// message expected next.
bool parse_frame(const std::byte* in, std::uint64_t expected) {
  frame_header h = decode_header(std::span<const std::byte>(in, frame_header::size));
  if (h.payload_size != sizeof(tcp_msg64)) return false;
  tcp_msg64 m;
  std::memcpy(&m, in + frame_header::size, sizeof m);
  return m.seq == expected;
}

bool write_all(int fd, const void* p, std::size_t n) {
  auto* c = static_cast<const char*>(p);
  while (n) {
    ssize_t r = ::write(fd, c, n);
    if (r <= 0) return false;
    c += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

double raw_tcp_msgs_per_s() {
  constexpr std::uint64_t n = 2'000'000;
  socket_pair s = connected_pair();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(s.server);
    // Each frame built as it is sent; a batch of them goes out in one write.
    std::vector<std::byte> batch(256 * frame_bytes);
    for (std::uint64_t sent = 0; sent < n;) {
      std::size_t k = std::min<std::uint64_t>(256, n - sent);
      for (std::size_t i = 0; i < k; ++i) build_frame(&batch[i * frame_bytes], sent + i);
      if (!write_all(s.client, batch.data(), k * frame_bytes)) break;
      sent += k;
    }
    ::close(s.client);
    ::_exit(0);
  }
  ::close(s.client);
  std::vector<std::byte> buf(1 << 20);
  std::size_t have = 0;
  std::uint64_t frames = 0;
  bool in_order = true;
  clk::time_point t0{};
  for (;;) {
    ssize_t r = ::read(s.server, buf.data() + have, buf.size() - have);
    if (r <= 0) break;
    if (frames == 0 && have == 0) t0 = clk::now();
    have += static_cast<std::size_t>(r);
    std::size_t at = 0;
    while (have - at >= frame_bytes) {  // every frame decoded and its message copied out
      in_order &= parse_frame(&buf[at], frames);
      ++frames;
      at += frame_bytes;
    }
    std::memmove(buf.data(), buf.data() + at, have - at);  // a partial frame waits for the rest
    have -= at;
  }
  double secs = std::chrono::duration<double>(clk::now() - t0).count();
  ::close(s.server);
  ::waitpid(pid, nullptr, 0);
  return frames == n && in_order ? n / secs : -1;
}

double raw_tcp_rtt_ns() {
  constexpr int rounds = 20'000;
  socket_pair s = connected_pair();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(s.server);
    std::byte f[frame_bytes];
    for (std::uint64_t i = 0; read_all(s.client, f, frame_bytes); ++i) {
      if (!parse_frame(f, i)) break;
      build_frame(f, i);  // the answer: a frame of its own
      if (!write_all(s.client, f, frame_bytes)) break;
    }
    ::_exit(0);
  }
  ::close(s.client);
  std::byte f[frame_bytes];
  std::vector<std::int64_t> rtt;
  for (int i = 0; i < rounds + 500; ++i) {
    auto t0 = clk::now();
    build_frame(f, static_cast<std::uint64_t>(i));
    if (!write_all(s.server, f, frame_bytes) || !read_all(s.server, f, frame_bytes)) break;
    if (!parse_frame(f, static_cast<std::uint64_t>(i))) break;
    if (i >= 500) rtt.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now() - t0).count());
  }
  ::close(s.server);
  ::waitpid(pid, nullptr, 0);
  std::sort(rtt.begin(), rtt.end());
  return rtt.size() == static_cast<std::size_t>(rounds) ? static_cast<double>(rtt[rtt.size() / 2]) : -1;
}

bench::registrar r1("raw_tcp_msgs_per_s", "troupe frames of a 64-byte message/s, built and parsed, over bare loopback sockets",
                    raw_tcp_msgs_per_s);
bench::registrar r2("tcp_msgs_per_s", "64-byte messages/s between two nodes over TCP loopback", tcp_msgs_per_s);
bench::registrar r3("raw_tcp_rtt_ns", "median ns per round trip over bare loopback sockets", raw_tcp_rtt_ns);
bench::registrar r4("tcp_rtt_ns", "median ns per round trip between two nodes over TCP loopback", tcp_rtt_ns);

}  // namespace
