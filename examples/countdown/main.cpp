// countdown: the classic experiment of the Python lecture. A CPU-bound
// countdown of N runs twice: one after the other, in two threads, and in
// two processes of actors. Python's threads gain nothing here (the GIL);
// C++ threads and troupe processes both use the two cores.
//
//   countdown [N] [--rounds R] [--json]
//
// Every phase calls the same out-of-line function, and the phases are
// repeated R times in a rotating order, so that none is favoured by
// being first or by a copy of the loop the compiler placed better; the
// medians are printed, with min and max.
#include <troupe/troupe.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

// `while n > 0: n -= 1`, as the lecture wrote it. The counter lives in
// memory (volatile), as Python's does, so the compiler can neither fold the
// loop away nor turn it into a register decrement: each step is a load and
// a store, a few cycles, and N = 200 million takes long enough (tenths of
// a second) for process start-up to matter little. One copy, out of line:
// each phase runs exactly this code.
[[gnu::noinline]] std::uint64_t countdown(std::uint64_t start) {
  volatile std::uint64_t n = start;
  std::uint64_t steps = 0;
  while (n > 0) {
    n = n - 1;
    ++steps;
  }
  return steps;
}

struct counted {
  std::uint64_t steps = 0;
};

}  // namespace

TROUPE_MESSAGE(counted);

namespace {

// The main actor of each worker process: one countdown, reported back.
troupe::task<void> counter(troupe::actor& self, troupe::actor_ref report, std::uint64_t n) {
  self.send(report, counted{countdown(n)});
  co_return;
}
TROUPE_ACTOR(counter);

double seconds(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

void usage(FILE* out) {
  std::fprintf(out,
               "usage: countdown [N] [--rounds R] [--json]\n"
               "  Counts down from N (default 200000000) twice: sequentially, in 2 threads,\n"
               "  and in 2 processes of actors, R times each (default 3) in a rotating order,\n"
               "  and prints the median wall times (with min and max) and speedups.\n");
}

struct stats {
  double median = 0, min = 0, max = 0;
};

stats of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t k = v.size();
  return {k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2, v.front(), v.back()};
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 200'000'000;
  int rounds = 3;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json")
      json = true;
    else if (a == "--help" || a == "-h")
      return usage(stdout), 0;
    else if (a == "--rounds" && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else if (!a.empty() && a[0] != '-')
      n = std::strtoull(a.c_str(), nullptr, 10);
    else
      return usage(stderr), 2;
  }
  if (rounds < 1) return usage(stderr), 2;
  return troupe::run(argc, argv, [&](troupe::actor& self) -> troupe::task<int> {
    enum phase { sequential, threads, processes };
    std::array<std::vector<double>, 3> times;
    bool complete = true;
    for (int r = 0; r < rounds; ++r) {
      for (int k = 0; k < 3; ++k) {
        auto t0 = clk::now();
        switch ((r + k) % 3) {
          case sequential: {
            complete &= countdown(n) + countdown(n) == 2 * n;
            times[sequential].push_back(seconds(t0));
            break;
          }
          case threads: {
            std::uint64_t a = 0, b = 0;
            std::thread t1([&] { a = countdown(n); });
            std::thread t2([&] { b = countdown(n); });
            t1.join();
            t2.join();
            times[threads].push_back(seconds(t0));
            complete &= a + b == 2 * n;
            break;
          }
          case processes: {
            // Process start-up is part of the cost, as with Python's Process.
            std::vector<troupe::process> ps;
            for (int i = 0; i < 2; ++i) ps.push_back(co_await self.spawn_process(counter, self.ref(), n));
            std::uint64_t c = 0;
            for (int i = 0; i < 2; ++i) c += (co_await self.receive<counted>())->steps;
            times[processes].push_back(seconds(t0));
            complete &= c == 2 * n;
            for (auto& p : ps) co_await p.join(self);
            break;
          }
        }
      }
    }
    if (!complete) {
      std::fprintf(stderr, "countdown: a loop did not run to the end\n");
      co_return 1;
    }
    stats s = of(times[sequential]), t = of(times[threads]), p = of(times[processes]);
    double thread_speedup = s.median / t.median, process_speedup = s.median / p.median;
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    for (double x : {thread_speedup, process_speedup})
      if (x > cores * 1.05)
        std::fprintf(stderr,
                     "countdown: warning: a speedup of %.2f on %u cores is more than the cores can give: the "
                     "machine was busy during some phases (the figures are not to be trusted)\n",
                     x, cores);
    if (json)
      std::printf(
          "{\"n\": %llu, \"rounds\": %d, \"cores\": %u, \"sequential_s\": %.4f, \"threads_s\": %.4f, "
          "\"processes_s\": %.4f, \"thread_speedup\": %.3f, \"process_speedup\": %.3f, "
          "\"spread\": {\"sequential_s\": [%.4f, %.4f], \"threads_s\": [%.4f, %.4f], \"processes_s\": [%.4f, "
          "%.4f]}}\n",
          static_cast<unsigned long long>(n), rounds, cores, s.median, t.median, p.median, thread_speedup,
          process_speedup, s.min, s.max, t.min, t.max, p.min, p.max);
    else
      std::printf(
          "countdown of %llu, twice; medians of %d rounds (min to max)\n"
          "  sequential  %7.3f s  (%.3f to %.3f)\n"
          "  2 threads   %7.3f s  (%.3f to %.3f)   speedup %.2f\n"
          "  2 processes %7.3f s  (%.3f to %.3f)   speedup %.2f\n",
          static_cast<unsigned long long>(n), rounds, s.median, s.min, s.max, t.median, t.min, t.max,
          thread_speedup, p.median, p.min, p.max, process_speedup);
    co_return 0;
  });
}
