// In-process figures: messaging, round trips, spawning, memory per actor,
// serialization.
#include "bench.hpp"

#include <troupe/troupe.hpp>

#include <boost/serialization/string.hpp>
#include <chrono>
#include <cstring>

namespace {

using clk = std::chrono::steady_clock;

struct msg64 {
  std::uint64_t seq = 0;
  char pad[56] = {};
};
struct stop_msg {};
struct record {
  std::uint64_t id = 0;
  std::string text;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & id & text;
  }
};

}  // namespace

TROUPE_MESSAGE(msg64);
TROUPE_MESSAGE(stop_msg);
TROUPE_MESSAGE(record);

namespace {

using namespace troupe;

double seconds_since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

// Awaited sends (Throttle: the baseline of plain sends, each followed by
// co_await throttle(), as before sends could be awaited).
template <bool Throttle>
double inproc_rate() {
  constexpr std::uint64_t n = 4'000'000;
  node nd;
  clk::time_point t0;
  actor_ref rx = nd.spawn([](actor& self) -> task<void> {
    for (std::uint64_t i = 0; i < n; ++i) co_await self.receive<msg64>();
  });
  nd.spawn([&](actor& self) -> task<void> {
    t0 = clk::now();
    msg64 m;
    for (std::uint64_t i = 0; i < n; ++i) {
      m.seq = i;
      if constexpr (Throttle) {
        self.send(rx, m);
        co_await self.throttle();
      } else {
        co_await self.send(rx, m);
      }
    }
  });
  nd.run();
  return n / seconds_since(t0);
}

double inproc_msgs_per_s() { return inproc_rate<false>(); }
double inproc_send_throttle_msgs_per_s() { return inproc_rate<true>(); }

// `rounds` pings to `echo`, one at a time, each answer awaited: ns per round trip.
task<double> ping_rounds(actor& self, actor_ref echo, int rounds) {
  msg64 m;
  auto t0 = clk::now();
  for (int i = 0; i < rounds; ++i) {
    m.seq = i;
    self.send(echo, m);
    co_await self.receive<msg64>();
  }
  co_return seconds_since(t0) * 1e9 / rounds;
}

double inproc_rtt_ns() {
  constexpr int rounds = 1'000'000;
  node nd;
  double ns = 0;
  actor_ref echo = nd.spawn([](actor& self) -> task<void> {
    for (;;) {
      auto m = co_await self.receive<msg64>();
      if (m->seq == ~0ull) co_return;
      self.send(m.sender(), *m);
    }
  });
  nd.spawn([&](actor& self) -> task<void> {
    ns = co_await ping_rounds(self, echo, rounds);
    msg64 last;
    last.seq = ~0ull;
    self.send(echo, last);
  });
  nd.run();
  return ns;
}

// An echo that takes either of two types: with receive<A, B>() + get_if
// (the baseline), or with the handler form of receive.
template <bool Handlers>
double inproc_rtt_two_types() {
  constexpr int rounds = 1'000'000;
  node nd;
  double ns = 0;
  actor_ref echo = nd.spawn([](actor& self) -> task<void> {
    bool running = true;
    while (running) {
      if constexpr (Handlers) {
        co_await self.receive([&](received<msg64>& m) { self.send(m.sender(), *m); },
                              [&](const stop_msg&) { running = false; });
      } else {
        message m = co_await self.receive<msg64, stop_msg>();
        if (msg64* p = m.get_if<msg64>())
          self.send(m.sender(), *p);
        else if (m.get_if<stop_msg>())
          running = false;
      }
    }
  });
  nd.spawn([&](actor& self) -> task<void> {
    ns = co_await ping_rounds(self, echo, rounds);
    self.send(echo, stop_msg{});
  });
  nd.run();
  return ns;
}

double inproc_rtt_get_if_ns() { return inproc_rtt_two_types<false>(); }
double inproc_rtt_handlers_ns() { return inproc_rtt_two_types<true>(); }

double actor_spawn_per_s() {
  constexpr int n = 1'000'000;
  node nd;
  int done = 0;
  auto t0 = clk::now();
  for (int i = 0; i < n; ++i)
    nd.spawn([](actor&, int* count) -> task<void> {
      ++*count;
      co_return;
    }, &done);
  nd.run();
  return n / seconds_since(t0);
}

// Runs in a fresh process: a heap that earlier figures grew would hide the
// growth.
double idle_actor_bytes_child() {
  constexpr int n = 100'000;
  node nd;
  std::vector<actor_ref> refs;
  refs.reserve(n);
  long before = troupe::bench::rss_bytes();
  long grown = 0;
  for (int i = 0; i < n; ++i)
    refs.push_back(nd.spawn([](actor& self) -> task<void> { co_await self.receive<stop_msg>(); }));
  nd.spawn([&](actor& self) -> task<void> {
    co_await self.yield();  // every actor has started and waits in receive
    grown = troupe::bench::rss_bytes() - before;
    for (auto r : refs) self.send(r, stop_msg{});
  });
  nd.run();
  return static_cast<double>(grown) / n;
}

double idle_actor_bytes() { return bench::run_child("idle_actor_bytes"); }

double serialize_roundtrip_ns() {
  constexpr int n = 1'000'000;
  const message_type& t = message_type_of<record>();
  record r{42, std::string(56, 'x')};
  detail::byte_buffer buf;
  auto t0 = clk::now();
  std::uint64_t check = 0;
  for (int i = 0; i < n; ++i) {
    buf.clear();
    r.id = i;
    t.serialize(&r, buf);
    message m(t.deserialize(buf.span()));
    m.envelope()->type = &t;
    check += m.get<record>().id;
  }
  double ns = seconds_since(t0) * 1e9 / n;
  if (check == 0) std::abort();
  return ns;
}

bench::registrar r1("inproc_msgs_per_s", "64-byte messages/s, one actor to another", inproc_msgs_per_s);
bench::registrar r1b("inproc_send_throttle_msgs_per_s", "the same with send + co_await throttle() (baseline)",
                     inproc_send_throttle_msgs_per_s);
bench::registrar r2("inproc_rtt_ns", "ns per ping-pong round trip", inproc_rtt_ns);
bench::registrar r2b("inproc_rtt_get_if_ns", "ns per round trip, echo taking two types with receive<A, B>() + get_if",
                     inproc_rtt_get_if_ns);
bench::registrar r2c("inproc_rtt_handlers_ns", "the same echo with the handler form of receive",
                     inproc_rtt_handlers_ns);
bench::registrar r3("actor_spawn_per_s", "actors spawned (and ended) per second", actor_spawn_per_s);
bench::child_registrar c4("idle_actor_bytes", idle_actor_bytes_child);
bench::registrar r4("idle_actor_bytes", "bytes of RSS per actor waiting in receive (100k)", idle_actor_bytes);
bench::registrar r5("serialize_roundtrip_ns", "{u64, 56-byte string} out and back, ns", serialize_roundtrip_ns);

}  // namespace
