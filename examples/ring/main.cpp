// ring: the classic actor benchmark. N actors spread over P processes pass
// a token around the ring M times.
//
//   ring [--actors N] [--processes P] [--rounds M]
#include <troupe/troupe.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

struct token {
  std::uint64_t hops_left = 0;
};
struct next_member {
  troupe::actor_ref next;
};

}  // namespace

TROUPE_MESSAGE(token);
TROUPE_MESSAGE(next_member);

namespace {

// Learns its successor, then forwards the token until no hops are left,
// when it hands it to `done`.
troupe::task<void> member(troupe::actor& self, troupe::actor_ref done) {
  troupe::actor_ref next = (co_await self.receive<next_member>())->next;
  for (;;) {
    auto t = co_await self.receive<token>();
    if (t->hops_left == 0) {
      self.send(done, *t);
      continue;
    }
    self.send(next, token{t->hops_left - 1});
  }
}
TROUPE_ACTOR(member);

void usage(FILE* out) {
  std::fprintf(out,
               "usage: ring [--actors N] [--processes P] [--rounds M]\n"
               "  Passes a token M times around a ring of N actors spread over P processes\n"
               "  (defaults: 1000 actors, 2 processes, 100 rounds) and reports hops per second.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t actors = 1000, processes = 2, rounds = 100;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage(stdout), 0;
    if (i + 1 >= argc) return usage(stderr), 2;
    if (a == "--actors")
      actors = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--processes")
      processes = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--rounds")
      rounds = std::strtoul(argv[++i], nullptr, 10);
    else
      return usage(stderr), 2;
  }
  if (actors < 1 || processes < 1) return usage(stderr), 2;
  return troupe::run(argc, argv, [&](troupe::actor& self) -> troupe::task<int> {
    std::vector<troupe::process> procs;
    for (std::size_t i = 0; i < processes; ++i) procs.push_back(co_await self.spawn_process());
    std::vector<troupe::actor_ref> ring;
    for (std::size_t i = 0; i < actors; ++i) ring.push_back(co_await self.spawn(procs[i % processes], member, self.ref()));
    for (std::size_t i = 0; i < actors; ++i) self.send(ring[i], next_member{ring[(i + 1) % actors]});
    std::uint64_t hops = static_cast<std::uint64_t>(actors) * rounds;
    auto t0 = std::chrono::steady_clock::now();
    self.send(ring[0], token{hops});
    co_await self.receive<token>();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%zu actors in %zu processes, %zu rounds: %llu hops in %.3f s, %.0f hops/s\n", actors, processes,
                rounds, static_cast<unsigned long long>(hops), s, hops / s);
    co_return 0;
  });
}
