// The six Savina benchmarks of savina_bench.cpp written for CAF 0.17
// (Debian's libcaf-dev), as a CAF user would write them: event-based
// actors, atoms, handlers whose results answer the sender, a scoped actor
// that waits for the end. Same parameters, same work per message; CAF runs
// with its default scheduler (a worker thread per core). Built into
// troupe-bench only when CAF is installed; the ratios savina_*_vs_caf are
// CAF's time over troupe's, from the same run.
#include "bench.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace {

using namespace caf;
using clk = std::chrono::steady_clock;

using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using stop_atom = atom_constant<atom("stop")>;
using done_atom = atom_constant<atom("done")>;
using inc_atom = atom_constant<atom("inc")>;
using get_atom_ = atom_constant<atom("getv")>;
using token_atom = atom_constant<atom("token")>;
using next_atom = atom_constant<atom("next")>;
using work_atom = atom_constant<atom("work")>;
using peers_atom = atom_constant<atom("peers")>;
using meet_atom = atom_constant<atom("meet")>;
using request_atom = atom_constant<atom("mreq")>;
using faded_atom = atom_constant<atom("faded")>;

double ms_since(clk::time_point t0) { return std::chrono::duration<double, std::milli>(clk::now() - t0).count(); }

// Runs `body(system, self)` on a fresh actor system; its wall time in ms,
// or -1 when the body reports a wrong result.
template <class F>
double caf_run(F body) {
  actor_system_config cfg;
  actor_system system{cfg};
  scoped_actor self{system};
  auto t0 = clk::now();
  bool ok = body(system, self);
  double ms = ms_since(t0);
  return ok ? ms : -1;
}

// --- PingPong -------------------------------------------------------------------------

behavior ponger(event_based_actor* self) {
  return {
      [](ping_atom, std::uint64_t n) { return make_message(pong_atom::value, n); },
      [self](stop_atom) { self->quit(); },
  };
}

struct pinger_state {
  std::uint64_t sent = 0, sum = 0;
};

behavior pinger(stateful_actor<pinger_state>* self, actor pong, std::uint64_t pings, actor report) {
  self->send(pong, ping_atom::value, self->state.sent++);
  return {
      [=](pong_atom, std::uint64_t n) {
        self->state.sum += n;
        if (self->state.sent < pings) {
          self->send(pong, ping_atom::value, self->state.sent++);
        } else {
          self->send(pong, stop_atom::value);
          self->send(report, done_atom::value, self->state.sum);
          self->quit();
        }
      },
  };
}

double caf_savina_pingpong_ms() {
  static constexpr std::uint64_t pings = 40'000;
  return caf_run([](actor_system& sys, scoped_actor& self) {
    auto p = sys.spawn(ponger);
    sys.spawn(pinger, p, pings, actor{self});
    std::uint64_t sum = 0;
    self->receive([&](done_atom, std::uint64_t s) { sum = s; });
    return sum == pings * (pings - 1) / 2;
  });
}

// --- Counting -----------------------------------------------------------------------------

behavior counter(stateful_actor<std::uint64_t>* self) {
  return {
      [self](inc_atom) { ++self->state; },
      [self](get_atom_) {
        self->quit();
        return self->state;
      },
  };
}

double caf_savina_counting_ms() {
  static constexpr std::uint64_t count = 1'000'000;
  return caf_run([](actor_system& sys, scoped_actor& self) {
    auto c = sys.spawn(counter);
    for (std::uint64_t i = 0; i < count; ++i) self->send(c, inc_atom::value);
    std::uint64_t v = 0;
    self->request(c, infinite, get_atom_::value).receive([&](std::uint64_t x) { v = x; }, [](error&) {});
    return v == count;
  });
}

// --- ThreadRing -------------------------------------------------------------------------------

behavior ring_member(stateful_actor<actor>* self, actor report) {
  return {
      [self](next_atom, actor next) { self->state = std::move(next); },
      [self, report](token_atom, std::uint64_t left) {
        if (left == 0)
          self->send(report, done_atom::value);
        else
          self->send(self->state, token_atom::value, left - 1);
      },
      [self](stop_atom) { self->quit(); },
  };
}

double caf_savina_threadring_ms() {
  static constexpr std::size_t actors = 100;
  static constexpr std::uint64_t passes = 100'000;
  return caf_run([](actor_system& sys, scoped_actor& self) {
    std::vector<actor> ring;
    for (std::size_t i = 0; i < actors; ++i) ring.push_back(sys.spawn(ring_member, actor{self}));
    for (std::size_t i = 0; i < actors; ++i) self->send(ring[i], next_atom::value, ring[(i + 1) % actors]);
    self->send(ring[0], token_atom::value, passes);
    bool done = false;
    self->receive([&](done_atom) { done = true; });
    for (auto& r : ring) self->send(r, stop_atom::value);
    return done;
  });
}

// --- FJ-Create -------------------------------------------------------------------------------

std::uint64_t busy(std::uint64_t seed) {
  std::uint64_t x = seed | 1;
  for (int i = 0; i < 16; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

behavior fj_worker(event_based_actor* self, actor report) {
  return {
      [self, report](work_atom, std::uint64_t seed) {
        volatile std::uint64_t r = busy(seed);
        (void)r;
        self->send(report, done_atom::value);
        self->quit();
      },
  };
}

double caf_savina_fjcreate_ms() {
  static constexpr std::uint64_t actors = 40'000;
  return caf_run([](actor_system& sys, scoped_actor& self) {
    for (std::uint64_t i = 0; i < actors; ++i) {
      auto a = sys.spawn(fj_worker, actor{self});
      self->send(a, work_atom::value, i);
    }
    std::uint64_t done = 0;
    self->receive_for(done, actors)([](done_atom) {});
    return done == actors;
  });
}

// --- Big ---------------------------------------------------------------------------------------

struct big_state {
  std::vector<actor> peers;
  std::uint64_t sent = 0, x = 0;
  const actor& next_peer() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return peers[x % peers.size()];
  }
};

behavior big_member(stateful_actor<big_state>* self, actor sink, std::uint64_t pings, std::uint64_t seed) {
  self->state.x = seed * 2654435761u + 1;
  return {
      [=](peers_atom, const std::vector<actor>& all) {
        self->state.peers = all;
        self->send(self->state.next_peer(), ping_atom::value, self->state.sent++);
      },
      [](ping_atom, std::uint64_t n) { return make_message(pong_atom::value, n); },
      [=](pong_atom, std::uint64_t) {
        if (self->state.sent < pings)
          self->send(self->state.next_peer(), ping_atom::value, self->state.sent++);
        else
          self->send(sink, done_atom::value);
      },
      [self](stop_atom) { self->quit(); },
  };
}

double caf_savina_big_ms() {
  static constexpr std::size_t members = 120;
  static constexpr std::uint64_t pings = 20'000;
  return caf_run([](actor_system& sys, scoped_actor& self) {
    std::vector<actor> all;
    for (std::size_t i = 0; i < members; ++i) all.push_back(sys.spawn(big_member, actor{self}, pings, std::uint64_t{i}));
    for (auto& m : all) self->send(m, peers_atom::value, all);
    std::size_t done = 0;
    self->receive_for(done, members)([](done_atom) {});
    for (auto& m : all) self->send(m, stop_atom::value);
    return done == members;
  });
}

// --- Chameneos -----------------------------------------------------------------------------

std::uint8_t complement(std::uint8_t a, std::uint8_t b) { return a == b ? a : static_cast<std::uint8_t>(3 - a - b); }

struct mall_state {
  std::uint64_t left = 0, held = 0;
  std::size_t faded = 0;
  std::optional<std::pair<actor, std::uint8_t>> waiting;
};

behavior mall(stateful_actor<mall_state>* self, std::size_t chameneos, std::uint64_t meetings, actor report) {
  self->state.left = meetings;
  return {
      [=](request_atom, actor who, std::uint8_t color) {
        auto& s = self->state;
        if (s.left == 0) {
          self->send(who, faded_atom::value);
          if (++s.faded == chameneos) {
            self->send(report, done_atom::value, s.held);
            self->quit();
          }
        } else if (!s.waiting) {
          s.waiting.emplace(std::move(who), color);
        } else {
          self->send(s.waiting->first, meet_atom::value, color);
          self->send(who, meet_atom::value, s.waiting->second);
          s.waiting.reset();
          --s.left;
          ++s.held;
        }
      },
  };
}

behavior chameneo(stateful_actor<std::uint8_t>* self, actor the_mall, std::uint8_t color) {
  self->state = color;
  self->send(the_mall, request_atom::value, actor{self}, color);
  return {
      [=](meet_atom, std::uint8_t partner) {
        self->state = complement(self->state, partner);
        self->send(the_mall, request_atom::value, actor{self}, self->state);
      },
      [self](faded_atom) { self->quit(); },
  };
}

double caf_savina_chameneos_ms() {
  static constexpr std::size_t chameneos = 100;
  static constexpr std::uint64_t meetings = 200'000;
  return caf_run([](actor_system& sys, scoped_actor& self) {
    auto m = sys.spawn(mall, chameneos, meetings, actor{self});
    for (std::size_t i = 0; i < chameneos; ++i) sys.spawn(chameneo, m, static_cast<std::uint8_t>(i % 3));
    std::uint64_t held = 0;
    self->receive([&](done_atom, std::uint64_t h) { held = h; });
    return held == meetings;
  });
}

using troupe::bench::registrar;
registrar r1("caf_savina_pingpong_ms", "ms for PingPong in CAF 0.17 (default scheduler)", caf_savina_pingpong_ms);
registrar r2("caf_savina_counting_ms", "ms for Counting in CAF 0.17", caf_savina_counting_ms);
registrar r3("caf_savina_threadring_ms", "ms for ThreadRing in CAF 0.17", caf_savina_threadring_ms);
registrar r4("caf_savina_fjcreate_ms", "ms for FJ-Create in CAF 0.17", caf_savina_fjcreate_ms);
registrar r5("caf_savina_big_ms", "ms for Big in CAF 0.17", caf_savina_big_ms);
registrar r6("caf_savina_chameneos_ms", "ms for Chameneos in CAF 0.17", caf_savina_chameneos_ms);

}  // namespace
