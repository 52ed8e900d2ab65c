// Pool figures: task overhead of apply_async and map, and the countdown
// speedup of two processes.
#include "bench.hpp"

#include <troupe/actors.hpp>
#include <troupe/troupe.hpp>

#include <chrono>
#include <numeric>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
using namespace troupe;

long bench_identity(long x) { return x; }
TROUPE_TASK(bench_identity);

template <class F>
void program(F&& root) {
  troupe::run(bench::argc, bench::argv, std::forward<F>(root));
}

double pool_apply_async_per_s() {
  constexpr long n = 100'000;
  double rate = 0;
  program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    co_await p.apply(self, bench_identity, 0L);  // workers up
    auto t0 = clk::now();
    std::vector<pool_future<long>> fs;
    fs.reserve(n);
    for (long i = 0; i < n; ++i) fs.push_back(p.apply_async(self, bench_identity, i));
    long sum = 0;
    for (auto& f : fs) sum += co_await f.get(self);
    rate = n / std::chrono::duration<double>(clk::now() - t0).count();
    if (sum != n * (n - 1) / 2) rate = -1;
    p.terminate(self);
  });
  return rate;
}

double pool_map_items_per_s() {
  constexpr long n = 1'000'000;
  double rate = 0;
  program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    co_await p.apply(self, bench_identity, 0L);
    std::vector<long> xs(n);
    std::iota(xs.begin(), xs.end(), 0L);
    // Once untimed, as compare_multiprocessing.py does: the steady speed,
    // not the first touch of fresh buffers and rings by new processes.
    co_await p.map(self, bench_identity, xs, n / 8);
    auto t0 = clk::now();
    auto r = co_await p.map(self, bench_identity, xs, n / 8);  // huge chunks, as Python's figure
    rate = n / std::chrono::duration<double>(clk::now() - t0).count();
    if (r.size() != static_cast<std::size_t>(n) || r.back() != n - 1) rate = -1;
    p.terminate(self);
  });
  return rate;
}

// The lecture's loop (see examples/countdown): a counter in memory. Out of
// line, so the sequential phase and the workers run the same code.
[[gnu::noinline]] std::uint64_t countdown(std::uint64_t start) {
  volatile std::uint64_t c = start;
  std::uint64_t steps = 0;
  while (c > 0) {
    c = c - 1;
    ++steps;
  }
  return steps;
}
std::uint64_t countdown_task(std::uint64_t n) { return countdown(n); }
TROUPE_TASK(countdown_task);

double countdown_speedup_2proc() {
  constexpr std::uint64_t n = 200'000'000;
  auto t0 = clk::now();
  std::uint64_t seq = countdown(n) + countdown(n);
  double sequential = std::chrono::duration<double>(clk::now() - t0).count();
  double parallel = 0;
  program([&](actor& self) -> task<void> {
    auto t1 = clk::now();  // process start-up counts, as in Python's figure
    pool p = co_await pool::start(self, {.processes = 2});
    auto a = p.apply_async(self, countdown_task, n);
    auto b = p.apply_async(self, countdown_task, n);
    std::uint64_t total = co_await a.get(self) + co_await b.get(self);
    parallel = std::chrono::duration<double>(clk::now() - t1).count();
    if (total != seq) parallel = -1;
    p.terminate(self);
  });
  return parallel > 0 ? sequential / parallel : -1;
}

// The same with the worker processes started before the clock runs: what
// two processes give once they are up (the loop takes tens of milliseconds
// in C++, so start-up is a visible share of the figure above).
double countdown_speedup_2proc_warm() {
  constexpr std::uint64_t n = 200'000'000;
  auto t0 = clk::now();
  std::uint64_t seq = countdown(n) + countdown(n);
  double sequential = std::chrono::duration<double>(clk::now() - t0).count();
  double parallel = 0;
  program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    auto w1 = p.apply_async(self, countdown_task, std::uint64_t{1});
    auto w2 = p.apply_async(self, countdown_task, std::uint64_t{1});
    co_await w1.get(self);
    co_await w2.get(self);
    auto t1 = clk::now();
    auto a = p.apply_async(self, countdown_task, n);
    auto b = p.apply_async(self, countdown_task, n);
    std::uint64_t total = co_await a.get(self) + co_await b.get(self);
    parallel = std::chrono::duration<double>(clk::now() - t1).count();
    if (total != seq) parallel = -1;
    p.terminate(self);
  });
  return parallel > 0 ? sequential / parallel : -1;
}

bench::registrar r1("pool_apply_async_per_s", "trivial tasks/s through apply_async, 2 workers, 100k tasks",
                    pool_apply_async_per_s);
bench::registrar r2("pool_map_items_per_s", "trivial items/s through map, 2 workers, 1M items in 8 chunks (a second map)",
                    pool_map_items_per_s);
bench::registrar r4("countdown_speedup_2proc_warm", "the same, worker processes started before timing",
                    countdown_speedup_2proc_warm);
bench::registrar r3("countdown_speedup_2proc", "sequential / 2-process time of two countdowns of 200M",
                    countdown_speedup_2proc);

}  // namespace
