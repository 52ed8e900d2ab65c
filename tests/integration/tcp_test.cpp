// Nodes over TCP on loopback: remote actors, names, the secret, hostile
// clients, dead and cut connections.
#include "support.hpp"

#include <troupe/transport/tcp.hpp>

#include <arpa/inet.h>
#include <asio.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <thread>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

task<void> tcp_echo(actor& self) {
  self.register_name("tcp-echo");
  for (;;) {
    auto m = co_await self.receive<note>();
    self.reply(m, note{"echo: " + m->text});
  }
}
TROUPE_ACTOR(tcp_echo);

int raw_connect(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// True once the node has closed `fd` (read gives 0 or an error).
bool closed_by_peer(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;  // a timeout means still open
  }
}

// The client side of the handshake (docs/protocol.md), by hand.
struct raw_client {
  int fd = -1;
  node_id me = 0x1234567812345678ull, peer = 0;
  bool ok = false;

  static void put(std::byte* p, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) p[i] = std::byte((v >> (8 * i)) & 0xff);
  }
  static std::uint64_t get(const std::byte* p, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t(std::to_integer<unsigned>(p[i])) << (8 * i);
    return v;
  }
  bool read_exact(void* p, std::size_t n) {
    auto* c = static_cast<char*>(p);
    while (n) {
      ssize_t r = ::recv(fd, c, n, 0);
      if (r <= 0) return false;
      c += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  raw_client(std::uint16_t port, const std::string& secret) {
    fd = raw_connect(port);
    if (fd < 0) return;
    std::byte hello[256]{}, theirs[256], proof[256]{};
    std::byte nonce[32];
    RAND_bytes(reinterpret_cast<unsigned char*>(nonce), 32);
    put(hello, 0x54505254, 4);
    put(hello + 4, 1, 2);
    put(hello + 6, 1, 2);
    put(hello + 8, me, 8);
    wire_format::local().encode(std::span<std::byte, 16>(hello + 16, 16));
    std::memcpy(hello + 32, nonce, 32);
    ::send(fd, hello, 256, MSG_NOSIGNAL);
    if (!read_exact(theirs, 256) || get(theirs + 6, 2) != 1) return;
    peer = get(theirs + 8, 8);
    std::string msg = "troupe-tcp-1|client|";
    msg.append(reinterpret_cast<const char*>(theirs + 32), 32);
    msg.append(reinterpret_cast<const char*>(nonce), 32);
    for (node_id n : {me, peer})
      for (int i = 0; i < 8; ++i) msg.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    unsigned len = 0;
    put(proof, 0x54505254, 4);
    put(proof + 4, 1, 2);
    put(proof + 6, 2, 2);
    put(proof + 8, me, 8);
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), reinterpret_cast<unsigned char*>(proof + 130), &len);
    ::send(fd, proof, 256, MSG_NOSIGNAL);
    std::byte their_proof[256];
    ok = read_exact(their_proof, 256) && get(their_proof + 6, 2) == 2;
  }
  ~raw_client() {
    if (fd >= 0) ::close(fd);
  }
  void send_frame(frame_header h, const std::vector<std::byte>& payload, std::size_t cut = SIZE_MAX) {
    std::vector<std::byte> f(frame_header::size);
    encode_header(h, std::span<std::byte, frame_header::size>(f.data(), frame_header::size));
    f.insert(f.end(), payload.begin(), payload.end());
    ::send(fd, f.data(), std::min(cut, f.size()), MSG_NOSIGNAL);
  }
};

// A TCP forwarder between a client and a node that the test can cut, or
// turn into a black hole (connections stay open, nothing passes).
class proxy {
 public:
  explicit proxy(std::uint16_t target) : target_(target), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~proxy() {
    asio::post(io_, [this] {
      io_.stop();
    });
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void cut() {
    asio::post(io_, [this] {
      for (auto& s : sockets_) {
        std::error_code ec;
        s->close(ec);
      }
    });
  }
  void blackhole() { blackhole_ = true; }

 private:
  using sock = asio::ip::tcp::socket;
  void accept() {
    acceptor_.async_accept([this](std::error_code ec, sock s) {
      if (ec) return;
      auto a = std::make_shared<sock>(std::move(s));
      auto b = std::make_shared<sock>(io_);
      b->connect({asio::ip::make_address("127.0.0.1"), target_}, ec);
      if (!ec) {
        sockets_.push_back(a);
        sockets_.push_back(b);
        pump(a, b);
        pump(b, a);
      }
      accept();
    });
  }
  void pump(std::shared_ptr<sock> from, std::shared_ptr<sock> to) {
    auto buf = std::make_shared<std::array<char, 65536>>();
    from->async_read_some(asio::buffer(*buf), [=, this](std::error_code ec, std::size_t n) {
      if (ec) {
        if (blackhole_) return;  // a black hole passes nothing, not even the end of a connection
        std::error_code e;
        to->close(e);
        return;
      }
      if (blackhole_) return pump(from, to);  // swallow
      asio::async_write(*to, asio::buffer(buf->data(), n), [=, this](std::error_code ec, std::size_t) {
        if (!ec) pump(from, to);
      });
    });
  }
  std::uint16_t target_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<sock>> sockets_;
  std::atomic<bool> blackhole_{false};
  std::thread thread_;
};

}  // namespace

TEST_F(process_test, a_node_joined_over_tcp_runs_remote_actors_and_answers_by_name) {
  tcp_env env;
  std::string reply, by_name;
  run_program([&](actor& self) -> task<void> {
    env_list plain_env;
    process p = co_await self.spawn_process(tcp_child(plain_env));
    actor_ref e = co_await self.spawn(p, tcp_echo);
    note n{"over tcp"};
    reply = (co_await self.request<note>(e, std::move(n), 10s))->text;
    std::optional<actor_ref> found;
    for (int i = 0; i < 1000 && !found; ++i) {
      found = co_await self.lookup("tcp-echo", 2s);
      if (!found) co_await self.sleep_for(1ms);
    }
    if (!found) co_return;
    note m{"by name"};
    by_name = (co_await self.request<note>(*found, std::move(m), 10s))->text;
  });
  EXPECT_EQ(reply, "echo: over tcp");
  EXPECT_EQ(by_name, "echo: by name");
}

TEST_F(process_test, a_node_with_the_wrong_secret_is_refused) {
  tcp_env env;
  std::string error;
  std::string after;
  run_program([&](actor& self) -> task<void> {
    try {
      env_list env{{"TROUPE_COOKIE", "not-the-secret"}};
      process bad = co_await self.spawn_process(tcp_child(env));
      (void)bad;
    } catch (const spawn_error& e) {
      error = e.what();
    }
    // The node goes on: a child with the right secret gets in.
    env_list plain_env;
    process good = co_await self.spawn_process(tcp_child(plain_env));
    actor_ref e = co_await self.spawn(good, tcp_echo);
    note n{"fine"};
    after = (co_await self.request<note>(e, std::move(n), 10s))->text;
  });
  EXPECT_NE(error.find("ended before it joined"), std::string::npos) << error;
  EXPECT_EQ(after, "echo: fine");
}

TEST_F(process_test, hostile_clients_are_dropped_and_the_node_keeps_serving) {
  tcp_env env;
  std::string secret = std::getenv("TROUPE_COOKIE");
  std::vector<std::string> results;
  std::string reply;
  std::uint64_t got_after_bad = 0;
  run_program([&](actor& self) -> task<void> {
    env_list plain_env;
    process good = co_await self.spawn_process(tcp_child(plain_env));
    actor_ref e = co_await self.spawn(good, tcp_echo);
    std::uint16_t port = listen_port(self);
    actor_ref me = self.ref();
    // The hostile clients run in a thread: this node must keep serving meanwhile.
    std::thread attacker([&, port, me] {
      {  // garbage instead of a handshake
        int fd = raw_connect(port);
        std::string junk(300, 'x');
        ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
        results.push_back(closed_by_peer(fd) ? "garbage dropped" : "garbage kept");
        ::close(fd);
      }
      {  // connects and says nothing
        int fd = raw_connect(port);
        results.push_back(closed_by_peer(fd) ? "silent dropped" : "silent kept");
        ::close(fd);
      }
      {  // authenticated, then a frame claiming 4 GiB
        raw_client c(port, secret);
        frame_header h;
        h.payload_size = 0xffffffffu;
        h.type = message_type_of<seq>().id;
        h.dst_node = c.peer;
        h.dst_actor = me.id;
        h.src_node = c.me;
        c.send_frame(h, {});
        results.push_back(c.ok && closed_by_peer(c.fd) ? "oversized dropped" : "oversized kept");
      }
      {  // authenticated, a truncated frame, then the connection ends
        raw_client c(port, secret);
        frame_header h;
        h.payload_size = 100;
        h.type = message_type_of<seq>().id;
        h.dst_node = c.peer;
        h.src_node = c.me;
        c.send_frame(h, std::vector<std::byte>(100), 80);
        ::shutdown(c.fd, SHUT_WR);
        results.push_back(c.ok && closed_by_peer(c.fd) ? "truncated dropped" : "truncated kept");
      }
      {  // unknown type and garbled payload: dead letters; the link stays and a good frame after them arrives
        raw_client c(port, secret);
        frame_header h;
        h.dst_node = c.peer;
        h.dst_actor = me.id;
        h.src_node = c.me;
        h.type = 0x0123456789abcdefull;
        h.payload_size = 4;
        c.send_frame(h, std::vector<std::byte>(4));
        h.type = message_type_of<note>().id;
        h.payload_size = 12;
        c.send_frame(h, std::vector<std::byte>(12, std::byte{0xff}));
        h.type = message_type_of<seq>().id;
        h.flags = frame_flags::raw;
        seq s{7, 42};
        std::vector<std::byte> payload(sizeof s);
        std::memcpy(payload.data(), &s, sizeof s);
        h.payload_size = sizeof s;
        c.send_frame(h, payload);
        std::this_thread::sleep_for(200ms);
        results.push_back(c.ok ? "dead letters ok" : "no handshake");
      }
    });
    // Meanwhile: serve requests over the good link.
    for (int i = 0; i < 20; ++i) {
      note n{"still " + std::to_string(i)};
      reply = (co_await self.request<note>(e, std::move(n), 10s))->text;
      co_await self.sleep_for(20ms);
    }
    auto s = co_await self.receive<seq>(10s);
    if (s) got_after_bad = s->n;
    attacker.join();
  });
  EXPECT_EQ(results, (std::vector<std::string>{"garbage dropped", "silent dropped", "oversized dropped",
                                               "truncated dropped", "dead letters ok"}));
  EXPECT_EQ(reply, "echo: still 19");
  EXPECT_EQ(got_after_bad, 42u);  // the valid frame after the bad ones was not lost
}

TEST_F(process_test, a_silent_peer_is_declared_down_by_heartbeat_and_a_cut_link_comes_back) {
  tcp_env env;
  std::optional<down> first_down;
  std::string after;
  run_program([&](actor& self) -> task<void> {
    proxy px(listen_port(self));
    // The child joins through the proxy; it also listens itself.
    env_list env{{"TROUPE_JOIN", "127.0.0.1:" + std::to_string(px.port())}};
    process p = co_await self.spawn_process(tcp_child(env));
    actor_ref e = co_await self.spawn(p, tcp_echo);
    self.monitor(e);
    px.blackhole();  // nothing passes any more: only missing heartbeats can tell
    auto d = co_await self.receive<down>(20s);
    if (d) first_down = *d;
    // A new link (straight to the child's own address) works again.
    actor_ref e2 = co_await self.spawn(p, tcp_echo);
    note n{"again"};
    after = (co_await self.request<note>(e2, std::move(n), 10s))->text;
  });
  ASSERT_TRUE(first_down);
  EXPECT_EQ(first_down->reason, exit_reason::unreachable);
  EXPECT_NE(first_down->detail.find("heartbeat"), std::string::npos) << first_down->detail;
  EXPECT_EQ(after, "echo: again");
}

TEST_F(process_test, a_cut_connection_gives_down_and_then_reconnects) {
  tcp_env env;
  std::optional<down> d1;
  std::string after;
  run_program([&](actor& self) -> task<void> {
    proxy px(listen_port(self));
    env_list env{{"TROUPE_JOIN", "127.0.0.1:" + std::to_string(px.port())}};
    process p = co_await self.spawn_process(tcp_child(env));
    actor_ref e = co_await self.spawn(p, tcp_echo);
    self.monitor(e);
    px.cut();
    auto d = co_await self.receive<down>(20s);
    if (d) d1 = *d;
    actor_ref e2 = co_await self.spawn(p, tcp_echo);
    note n{"reconnected"};
    after = (co_await self.request<note>(e2, std::move(n), 10s))->text;
  });
  ASSERT_TRUE(d1);
  EXPECT_EQ(d1->reason, exit_reason::unreachable);
  EXPECT_EQ(after, "echo: reconnected");
}

TEST(cluster_secret, a_secret_file_readable_by_others_is_refused) {
  std::string path = "/tmp/troupe-secret-" + std::to_string(::getpid());
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("s3cret\n", f);
    std::fclose(f);
  }
  ::unsetenv("TROUPE_COOKIE");
  ::setenv("TROUPE_COOKIE_FILE", path.c_str(), 1);
  ::chmod(path.c_str(), 0644);
  try {
    load_cluster_secret();
    ADD_FAILURE() << "accepted a world-readable secret file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("readable by others"), std::string::npos) << e.what();
  }
  ::chmod(path.c_str(), 0600);
  EXPECT_EQ(load_cluster_secret(), "s3cret");
  ::unsetenv("TROUPE_COOKIE_FILE");
  ::unlink(path.c_str());
}

// --- a new process reaches its cluster at once ----------------------------------

namespace {

task<void> root_looker(actor& self) {
  // The first thing it does: find an actor on the root, two hops away.
  auto r = co_await self.lookup("tcp-root", 10s);
  if (!r) throw std::runtime_error("tcp-root not found");
  self.send(*r, note{"found"});
}
TROUPE_ACTOR(root_looker);

task<void> grandparent(actor& self, int count) {
  int ok = 0;
  for (int i = 0; i < count; ++i) {
    process p = co_await self.spawn_process(root_looker);
    co_await p.join(self);
    if (p.exitcode() == 0) ++ok;
  }
  auto r = co_await self.lookup("tcp-root", 10s);
  if (r) self.send(*r, note{"ok " + std::to_string(ok)});
}
TROUPE_ACTOR(grandparent);

}  // namespace

TEST_F(process_test, a_process_started_by_a_joined_node_reaches_the_root_from_its_first_step) {
  tcp_env env;
  int found = 0;
  std::string summary;
  run_program([&](actor& self) -> task<void> {
    self.register_name("tcp-root");
    env_list e;
    process p = co_await self.spawn_process(tcp_child(e), grandparent, 6);
    while (summary.empty()) {
      auto m = co_await self.receive<note>(60s);
      if (!m) break;
      if (m->text == "found")
        ++found;
      else
        summary = m->text;
    }
    co_await p.join(self);
  });
  EXPECT_EQ(summary, "ok 6");
  EXPECT_EQ(found, 6);
}
