// ping_pong: two actors pass a counter back and forth and time each round
// trip.
//
//   ping_pong [--transport inproc|shm|tcp] [--rounds N] [--json]
//
// With --transport inproc both actors live in this process; with shm the
// ponger lives in a second process and messages cross shared memory.
#include <troupe/troupe.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

struct ball {
  std::uint64_t n = 0;
};
TROUPE_MESSAGE(ball);

namespace {

struct options {
  std::string transport = "inproc";
  std::uint64_t rounds = 100000;
  bool json = false;
};

troupe::task<void> ponger(troupe::actor& self) {
  for (;;) {
    auto m = co_await self.receive<ball>();
    if (m->n == 0) co_return;
    self.send(m.sender(), ball{m->n + 1});
  }
}

TROUPE_ACTOR(ponger);

troupe::task<int> pinger(troupe::actor& self, const options& opt, troupe::actor_ref peer) {
  using clock = std::chrono::steady_clock;
  std::vector<std::int64_t> rtt;
  rtt.reserve(opt.rounds);
  std::uint64_t n = 1;
  for (std::uint64_t i = 0; i < opt.rounds; ++i) {
    auto t0 = clock::now();
    self.send(peer, ball{n});
    auto m = co_await self.receive<ball>();
    rtt.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count());
    if (m->n != n + 1) {
      std::fprintf(stderr, "ping_pong: expected %llu, got %llu\n", static_cast<unsigned long long>(n + 1),
                   static_cast<unsigned long long>(m->n));
      co_return 1;
    }
    n = m->n + 1;
  }
  self.send(peer, ball{0});
  std::sort(rtt.begin(), rtt.end());
  auto at = [&](double q) { return rtt.empty() ? 0 : rtt[std::min(rtt.size() - 1, std::size_t(q * rtt.size()))]; };
  if (opt.json)
    std::printf("{\"transport\": \"%s\", \"rounds\": %llu, \"rtt_median_ns\": %lld, \"rtt_p99_ns\": %lld}\n",
                opt.transport.c_str(), static_cast<unsigned long long>(opt.rounds), static_cast<long long>(at(0.5)),
                static_cast<long long>(at(0.99)));
  else
    std::printf("%s: %llu round trips, median %lld ns, p99 %lld ns\n", opt.transport.c_str(),
                static_cast<unsigned long long>(opt.rounds), static_cast<long long>(at(0.5)),
                static_cast<long long>(at(0.99)));
  co_return 0;
}

void usage(FILE* out) {
  std::fprintf(out,
               "usage: ping_pong [--transport inproc|shm|tcp] [--rounds N] [--json]\n"
               "  Two actors exchange a counter N times and report the round-trip time.\n"
               "  --transport  where the second actor lives: inproc (this process),\n"
               "               shm (another process, through shared memory),\n"
               "               tcp (another process, over TCP on loopback)\n"
               "  --rounds N   round trips to time (default 100000)\n"
               "  --json       print {\"transport\", \"rounds\", \"rtt_median_ns\", \"rtt_p99_ns\"}\n");
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--transport" && i + 1 < argc) {
      opt.transport = argv[++i];
    } else if (a == "--rounds" && i + 1 < argc) {
      opt.rounds = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--json") {
      opt.json = true;
    } else {
      std::fprintf(stderr, "ping_pong: unknown argument %s\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (opt.transport != "inproc" && opt.transport != "shm" && opt.transport != "tcp") {
    std::fprintf(stderr, "ping_pong: unknown transport %s (inproc, shm, tcp)\n", opt.transport.c_str());
    return 2;
  }
  if (opt.transport == "tcp" && !troupe::is_worker_process()) {
    // This node listens on loopback; the second process joins it over TCP
    // (and only TCP). Both need the cluster's secret: make one up if none is set.
    ::setenv("TROUPE_LISTEN", "127.0.0.1:0", 0);
    if (!std::getenv("TROUPE_COOKIE") && !std::getenv("TROUPE_COOKIE_FILE"))
      ::setenv("TROUPE_COOKIE", std::to_string(std::random_device{}()).c_str(), 1);
  }
  return troupe::run(argc, argv, [&](troupe::actor& self) -> troupe::task<int> {
    troupe::actor_ref peer;
    troupe::process child;
    if (opt.transport == "inproc") {
      peer = self.spawn(ponger);
    } else {
      static const std::vector<std::pair<std::string, std::string>> tcp_only{{"TROUPE_TRANSPORTS", "tcp"}};
      troupe::process_options o{.name = "ponger"};
      if (opt.transport == "tcp") o.env = tcp_only;
      child = co_await self.spawn_process(o);
      peer = co_await self.spawn(child, ponger);
    }
    int code = co_await pinger(self, opt, peer);
    co_return code;
  });
}
