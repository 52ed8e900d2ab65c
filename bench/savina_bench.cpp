// Six Savina benchmarks (Imam and Sarkar, 2014) with the suite's standard
// parameters, written as a troupe user would: PingPong, Counting,
// ThreadRing, FJ-Create, Big and Chameneos in one process, and the three
// that spread over processes (FJ-Create, Big, Chameneos) over 2 and 4
// processes. Each figure is the wall time of one run in milliseconds. The
// figures over several processes start their clock once the processes run
// and their actors exist, as Savina times an iteration and not the start
// of the actor system (process_spawn_ms measures that); Big starts its
// clock at the same point in one process too.
#include "bench.hpp"

#include <troupe/troupe.hpp>

#include <algorithm>
#include <boost/serialization/vector.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
using namespace troupe;

double ms_since(clk::time_point t0) { return std::chrono::duration<double, std::milli>(clk::now() - t0).count(); }

struct sv_ping {
  std::uint64_t n = 0;
};
struct sv_pong {
  std::uint64_t n = 0;
};
struct sv_stop {};
struct sv_done {};
struct sv_increment {};
struct sv_get {};
struct sv_count {
  std::uint64_t value = 0;
};
struct sv_token {
  std::uint64_t left = 0;
};
struct sv_next {
  actor_ref next;
};
struct sv_work {
  std::uint64_t seed = 0;
};
struct sv_peers {
  std::vector<actor_ref> all;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & all;
  }
};
struct sv_meet_request {
  actor_ref who;
  std::uint8_t color = 0;
};
struct sv_meet {
  std::uint8_t partner_color = 0;
};
struct sv_faded {};

}  // namespace

TROUPE_MESSAGE(sv_ping);
TROUPE_MESSAGE(sv_pong);
TROUPE_MESSAGE(sv_stop);
TROUPE_MESSAGE(sv_done);
TROUPE_MESSAGE(sv_increment);
TROUPE_MESSAGE(sv_get);
TROUPE_MESSAGE(sv_count);
TROUPE_MESSAGE(sv_token);
TROUPE_MESSAGE(sv_next);
TROUPE_MESSAGE(sv_work);
TROUPE_MESSAGE(sv_peers);
TROUPE_MESSAGE(sv_meet_request);
TROUPE_MESSAGE(sv_meet);
TROUPE_MESSAGE(sv_faded);

namespace {

// Runs `root` on a node of its own and returns its wall time (or -1 if the
// node deadlocked or the root found a wrong result).
template <class F>
double one_process(F root) {
  node n;
  bool ok = false;
  clk::time_point t0 = clk::now();
  n.spawn([&](actor& self) -> task<void> { ok = co_await root(self); });
  bool ran = n.run();
  double ms = ms_since(t0);
  return ran && ok ? ms : -1;
}

// --- PingPong: 40,000 round trips between two actors -----------------------------------

double savina_pingpong_ms() {
  constexpr std::uint64_t pings = 40'000;
  return one_process([](actor& self) -> task<bool> {
    actor_ref ponger = self.spawn([](actor& s) -> task<void> {
      for (;;) {
        bool stop = false;
        co_await s.receive([&](received<sv_ping>& p) { s.reply(p, sv_pong{p->n}); }, [&](const sv_stop&) { stop = true; });
        if (stop) co_return;
      }
    });
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < pings; ++i) {
      self.send(ponger, sv_ping{i});
      sum += (co_await self.receive<sv_pong>())->n;
    }
    self.send(ponger, sv_stop{});
    co_return sum == pings * (pings - 1) / 2;
  });
}

// --- Counting: 1,000,000 messages to a counter, then its value ---------------------------

double savina_counting_ms() {
  constexpr std::uint64_t count = 1'000'000;
  return one_process([](actor& self) -> task<bool> {
    actor_ref counter = self.spawn([](actor& s) -> task<void> {
      std::uint64_t value = 0;
      for (;;) {
        bool asked = false;
        co_await s.receive([&](const sv_increment&) { ++value; },
                           [&](received<sv_get>& g) {
                             s.reply(g, sv_count{value});
                             asked = true;
                           });
        if (asked) co_return;
      }
    });
    sv_increment inc;  // (named, not braced inside co_await: g++ 12, docs/guide.md)
    for (std::uint64_t i = 0; i < count; ++i) co_await self.send(counter, inc);
    sv_get get;
    auto v = co_await self.request<sv_count>(counter, get, std::chrono::seconds(60));
    co_return v->value == count;
  });
}

// --- ThreadRing: a token passed 100,000 times around 100 actors --------------------------

task<void> ring_member(actor& self, actor_ref report) {
  actor_ref next;
  for (;;) {
    bool stop = false;
    co_await self.receive([&](const sv_next& n) { next = n.next; },
                          [&](const sv_token& t) {
                            if (t.left == 0)
                              self.send(report, sv_done{});
                            else
                              self.send(next, sv_token{t.left - 1});
                          },
                          [&](const sv_stop&) { stop = true; });
    if (stop) co_return;
  }
}

double savina_threadring_ms() {
  constexpr std::size_t actors = 100;
  constexpr std::uint64_t passes = 100'000;
  return one_process([](actor& self) -> task<bool> {
    std::vector<actor_ref> ring;
    for (std::size_t i = 0; i < actors; ++i) ring.push_back(self.spawn(ring_member, self.ref()));
    for (std::size_t i = 0; i < actors; ++i) self.send(ring[i], sv_next{ring[(i + 1) % actors]});
    self.send(ring[0], sv_token{passes});
    co_await self.receive<sv_done>();
    for (auto r : ring) self.send(r, sv_stop{});
    auto downs = co_await self.join_all(ring);
    co_return downs.size() == actors;
  });
}

// --- FJ-Create: 40,000 actors, each created, sent one message, and ended -----------------

// Savina's token work: a little arithmetic per message.
std::uint64_t busy(std::uint64_t seed) {
  std::uint64_t x = seed | 1;
  for (int i = 0; i < 16; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

// FJ-Create: 40,000 actors, each created, sent one message, and ended. A
// forker in each process (one, or several) creates its share of the
// actors there and reports when all are done.
task<void> fj_forker(actor& self, actor_ref report, int rounds) {
  for (int round = 0; round < rounds; ++round) {
    std::uint64_t share = (co_await self.receive<sv_count>())->value;
    for (std::uint64_t i = 0; i < share; ++i) {
      actor_ref a = self.spawn([](actor& s, actor_ref report) -> task<void> {
        auto w = co_await s.receive<sv_work>();
        volatile std::uint64_t r = busy(w->seed);
        (void)r;
        s.send(report, sv_done{});
      }, self.ref());
      self.send(a, sv_work{i});
      // Let the actors made so far run and end: the actors alive at once,
      // and so the memory they touch, stay few, whatever the share.
      if (i % 256 == 255) co_await self.yield();
    }
    for (std::uint64_t i = 0; i < share; ++i) co_await self.receive<sv_done>();
    self.send(report, sv_done{});
  }
}
TROUPE_ACTOR(fj_forker);

double fjcreate_over(std::size_t processes) {
  constexpr std::uint64_t actors = 40'000;
  double ms = -1;
  troupe::run(bench::argc, bench::argv, [&](actor& self) -> task<void> {
    constexpr int rounds = 8;
    std::vector<actor_ref> forkers{self.spawn(fj_forker, self.ref(), rounds)};
    for (std::size_t i = 1; i < processes; ++i) {
      process p = co_await self.spawn_process();
      forkers.push_back(co_await self.spawn(p, fj_forker, self.ref(), rounds));
    }
    // A first round untimed (a fresh process pays for touching its heap),
    // then the median of the others: one round takes a few milliseconds.
    std::vector<double> times;
    for (int round = 0; round < rounds; ++round) {
      auto t0 = clk::now();
      for (std::size_t i = 0; i < processes; ++i)
        self.send(forkers[i], sv_count{actors / processes + (i < actors % processes ? 1 : 0)});
      for (std::size_t i = 0; i < processes; ++i) co_await self.receive<sv_done>();
      if (round > 0) times.push_back(ms_since(t0));
    }
    std::sort(times.begin(), times.end());
    ms = times[times.size() / 2];
  });
  return ms;
}

double savina_fjcreate_ms() { return fjcreate_over(1); }
double savina_fjcreate_2proc_ms() { return fjcreate_over(2); }
double savina_fjcreate_4proc_ms() { return fjcreate_over(4); }

// --- Big: 120 actors, each sends 20,000 pings to random peers, each answered -------------

task<void> big_member(actor& self, actor_ref sink, std::uint64_t pings, std::uint64_t seed) {
  std::vector<actor_ref> peers;
  std::uint64_t sent = 0, x = seed * 2654435761u + 1;
  auto next_peer = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return peers[x % peers.size()];
  };
  for (;;) {
    bool stop = false;
    co_await self.receive([&](const sv_peers& p) {
                            peers = p.all;
                            self.send(next_peer(), sv_ping{sent++});
                          },
                          [&](received<sv_ping>& p) { self.reply(p, sv_pong{p->n}); },
                          [&](const sv_pong&) {
                            if (sent < pings)
                              self.send(next_peer(), sv_ping{sent++});
                            else
                              self.send(sink, sv_done{});
                          },
                          [&](const sv_stop&) { stop = true; });
    if (stop) co_return;
  }
}
TROUPE_ACTOR(big_member);

constexpr std::size_t big_actors = 120;
constexpr std::uint64_t big_pings = 20'000;

// The sink: hands every member the list of all, waits for each to finish
// its pings, then stops them.
task<bool> big_sink(actor& self, std::vector<actor_ref> members, double& ms) {
  auto t0 = clk::now();
  sv_peers all{members};
  for (auto m : members) self.send(m, all);
  for (std::size_t i = 0; i < members.size(); ++i) co_await self.receive<sv_done>();
  for (auto m : members) self.send(m, sv_stop{});
  auto downs = co_await self.join_all(members);
  ms = ms_since(t0);
  for (auto& d : downs)
    if (d.reason != exit_reason::normal) co_return false;
  co_return true;
}

double savina_big_ms() {
  double ms = -1;
  bool ok = one_process([&](actor& self) -> task<bool> {
    std::vector<actor_ref> members;
    for (std::size_t i = 0; i < big_actors; ++i) members.push_back(self.spawn(big_member, self.ref(), big_pings, i));
    co_return co_await big_sink(self, std::move(members), ms);
  }) >= 0;
  return ok ? ms : -1;
}

// Big with its members spread over `processes` processes (this one among
// them): pings between members of different processes cross shared memory.
double big_over(std::size_t processes) {
  double ms = -1;
  troupe::run(bench::argc, bench::argv, [&](actor& self) -> task<void> {
    std::vector<process> ps;
    for (std::size_t i = 1; i < processes; ++i) ps.push_back(co_await self.spawn_process());
    std::vector<actor_ref> members;
    for (std::size_t i = 0; i < big_actors; ++i) {
      std::size_t where = i % processes;
      std::uint64_t seed = i;
      if (where == 0)
        members.push_back(self.spawn(big_member, self.ref(), big_pings, seed));
      else
        members.push_back(co_await self.spawn(ps[where - 1], big_member, self.ref(), big_pings, seed));
    }
    double run_ms = -1;
    bool ok = co_await big_sink(self, std::move(members), run_ms);
    if (ok) ms = run_ms;
  });
  return ms;
}

double savina_big_2proc_ms() { return big_over(2); }
double savina_big_4proc_ms() { return big_over(4); }

// --- Chameneos: 100 chameneos, 200,000 meetings through a mall -------------------------------

std::uint8_t complement(std::uint8_t a, std::uint8_t b) { return a == b ? a : static_cast<std::uint8_t>(3 - a - b); }

// The mall: pairs the chameneos that ask, `meetings` times, then tells each
// that asks again to fade; reports to `report` once all have faded.
task<void> chameneos_mall(actor& self, actor_ref report, std::size_t chameneos, std::uint64_t meetings,
                          std::uint64_t& held) {
  std::uint64_t left = meetings;
  std::size_t faded = 0;
  std::optional<sv_meet_request> waiting;
  while (faded < chameneos) {
    auto r = co_await self.receive<sv_meet_request>();
    if (left == 0) {
      self.send(r->who, sv_faded{});
      ++faded;
    } else if (!waiting) {
      waiting = *r;
    } else {
      self.send(waiting->who, sv_meet{r->color});
      self.send(r->who, sv_meet{waiting->color});
      waiting.reset();
      --left;
      ++held;
    }
  }
  self.send(report, sv_done{});
}

// A chameneo: told where the mall is, asks it for meetings until it fades.
task<void> chameneos_member(actor& self, std::uint8_t color) {
  actor_ref mall = (co_await self.receive<sv_next>())->next;
  for (;;) {
    self.send(mall, sv_meet_request{self.ref(), color});
    bool faded = false;
    co_await self.receive([&](const sv_meet& m) { color = complement(color, m.partner_color); },
                          [&](const sv_faded&) { faded = true; });
    if (faded) co_return;
  }
}
TROUPE_ACTOR(chameneos_member);

constexpr std::size_t chameneos_count = 100;
constexpr std::uint64_t chameneos_meetings = 200'000;

double savina_chameneos_ms() {
  return one_process([](actor& self) -> task<bool> {
    std::uint64_t held = 0;
    actor_ref mall = self.spawn([&held](actor& s, actor_ref report) {
      return chameneos_mall(s, report, chameneos_count, chameneos_meetings, held);
    }, self.ref());
    for (std::size_t i = 0; i < chameneos_count; ++i) {
      actor_ref c = self.spawn(chameneos_member, static_cast<std::uint8_t>(i % 3));
      self.send(c, sv_next{mall});
    }
    co_await self.receive<sv_done>();
    co_return held == chameneos_meetings;
  });
}

// Chameneos over several processes: the mall here, the chameneos spread
// over all the processes; every meeting goes through the mall.

double chameneos_over(std::size_t processes) {
  double ms = -1;
  troupe::run(bench::argc, bench::argv, [&](actor& self) -> task<void> {
    std::vector<process> ps;
    for (std::size_t i = 1; i < processes; ++i) ps.push_back(co_await self.spawn_process());
    std::vector<actor_ref> members;
    for (std::size_t i = 0; i < chameneos_count; ++i) {
      std::size_t where = i % processes;
      auto color = static_cast<std::uint8_t>(i % 3);
      if (where == 0)
        members.push_back(self.spawn(chameneos_member, color));
      else
        members.push_back(co_await self.spawn(ps[where - 1], chameneos_member, color));
    }
    std::uint64_t held = 0;
    auto t0 = clk::now();
    actor_ref mall = self.spawn([&held](actor& s, actor_ref report) {
      return chameneos_mall(s, report, chameneos_count, chameneos_meetings, held);
    }, self.ref());
    for (auto m : members) self.send(m, sv_next{mall});
    co_await self.receive<sv_done>();
    auto downs = co_await self.join_all(members);
    bool all_normal = true;
    for (auto& d : downs) all_normal &= d.reason == exit_reason::normal;
    if (held == chameneos_meetings && all_normal) ms = ms_since(t0);
  });
  return ms;
}

double savina_chameneos_2proc_ms() { return chameneos_over(2); }
double savina_chameneos_4proc_ms() { return chameneos_over(4); }

bench::registrar r1("savina_pingpong_ms", "ms for Savina PingPong (40,000 round trips), one process", savina_pingpong_ms);
bench::registrar r2("savina_counting_ms", "ms for Savina Counting (1,000,000 messages), one process", savina_counting_ms);
bench::registrar r3("savina_threadring_ms", "ms for Savina ThreadRing (100 actors, 100,000 passes), one process",
                    savina_threadring_ms);
bench::registrar r4("savina_fjcreate_ms", "ms for Savina FJ-Create (40,000 actors), one process", savina_fjcreate_ms);
bench::registrar r4b("savina_fjcreate_2proc_ms", "the same over 2 processes (a forker in each creates its share)",
                     savina_fjcreate_2proc_ms);
bench::registrar r4c("savina_fjcreate_4proc_ms", "the same over 4 processes", savina_fjcreate_4proc_ms);
bench::registrar r5("savina_big_ms", "ms for Savina Big (120 actors x 20,000 pings), one process, from all members made",
                    savina_big_ms);
bench::registrar r6("savina_big_2proc_ms", "the same over 2 processes", savina_big_2proc_ms);
bench::registrar r7("savina_big_4proc_ms", "the same over 4 processes", savina_big_4proc_ms);
bench::registrar r8("savina_chameneos_ms", "ms for Savina Chameneos (100 chameneos, 200,000 meetings), one process",
                    savina_chameneos_ms);
bench::registrar r8b("savina_chameneos_2proc_ms", "the same over 2 processes (the mall in one, the chameneos in both)",
                     savina_chameneos_2proc_ms);
bench::registrar r8c("savina_chameneos_4proc_ms", "the same over 4 processes", savina_chameneos_4proc_ms);

}  // namespace
