// countdown: the classic experiment of the Python lecture. A CPU-bound
// countdown of N runs twice: one after the other, in two threads, and in
// two processes of actors. Python's threads gain nothing here (the GIL);
// C++ threads and troupe processes both use the two cores.
//
//   countdown [N] [--json]
#include <troupe/troupe.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

using clk = std::chrono::steady_clock;

// `while n > 0: n -= 1`, as the lecture wrote it. The counter lives in
// memory (volatile), as Python's does, so the compiler can neither fold the
// loop away nor turn it into a register decrement: each step is a load and
// a store, a few cycles, and N = 200 million takes long enough (tenths of
// a second) for process start-up to matter little.
std::uint64_t countdown(std::uint64_t start) {
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

troupe::task<void> counter(troupe::actor& self, troupe::actor_ref report, std::uint64_t n) {
  self.send(report, counted{countdown(n)});
  co_return;
}
TROUPE_ACTOR(counter);

double seconds(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

void usage(FILE* out) {
  std::fprintf(out,
               "usage: countdown [N] [--json]\n"
               "  Counts down from N (default 200000000) twice: sequentially, in 2 threads,\n"
               "  and in 2 processes of actors, and prints the wall times and speedups.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 200'000'000;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json")
      json = true;
    else if (a == "--help" || a == "-h")
      return usage(stdout), 0;
    else if (!a.empty() && a[0] != '-')
      n = std::strtoull(a.c_str(), nullptr, 10);
    else
      return usage(stderr), 2;
  }
  return troupe::run(argc, argv, [&](troupe::actor& self) -> troupe::task<int> {
    auto t0 = clk::now();
    std::uint64_t total = countdown(n) + countdown(n);
    double sequential = seconds(t0);

    t0 = clk::now();
    std::uint64_t a = 0, b = 0;
    std::thread t1([&] { a = countdown(n); });
    std::thread t2([&] { b = countdown(n); });
    t1.join();
    t2.join();
    double threads = seconds(t0);

    t0 = clk::now();
    std::uint64_t c = 0;
    for (int i = 0; i < 2; ++i) {
      troupe::process p = co_await self.spawn_process();
      co_await self.spawn(p, counter, self.ref(), n);
    }
    for (int i = 0; i < 2; ++i) c += (co_await self.receive<counted>())->steps;
    double processes = seconds(t0);

    if (total != 2 * n || a + b != 2 * n || c != 2 * n) {
      std::fprintf(stderr, "countdown: a loop did not run to the end\n");
      co_return 1;
    }
    if (json)
      std::printf(
          "{\"n\": %llu, \"sequential_s\": %.4f, \"threads_s\": %.4f, \"processes_s\": %.4f, "
          "\"thread_speedup\": %.3f, \"process_speedup\": %.3f}\n",
          static_cast<unsigned long long>(n), sequential, threads, processes, sequential / threads,
          sequential / processes);
    else
      std::printf(
          "countdown of %llu, twice\n"
          "  sequential  %7.3f s\n"
          "  2 threads   %7.3f s   speedup %.2f\n"
          "  2 processes %7.3f s   speedup %.2f\n",
          static_cast<unsigned long long>(n), sequential, threads, sequential / threads, processes,
          sequential / processes);
    co_return 0;
  });
}
