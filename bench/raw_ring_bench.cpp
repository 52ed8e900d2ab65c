// The bare limit of this machine: a minimal lock-free ring of 64-byte slots
// between two forked processes, busy-polling, no runtime at all.
#include "bench.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

struct slot {
  std::uint64_t seq;
  char pad[56];
};

constexpr std::uint64_t slots = 4096;

struct raw_ring {
  alignas(64) std::atomic<std::uint64_t> head{0};
  alignas(64) std::atomic<std::uint64_t> tail{0};
  alignas(64) slot data[slots];

  void push(const slot& s, std::uint64_t& head_local, std::uint64_t& tail_cache) {
    while (head_local - tail_cache >= slots) tail_cache = tail.load(std::memory_order_acquire);
    data[head_local % slots] = s;
    head.store(++head_local, std::memory_order_release);
  }
  slot pop(std::uint64_t& tail_local, std::uint64_t& head_cache) {
    while (tail_local == head_cache) head_cache = head.load(std::memory_order_acquire);
    slot s = data[tail_local % slots];
    tail.store(++tail_local, std::memory_order_release);
    return s;
  }
};

template <class T>
T* shared_new() {
  void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return new (p) T();
}
template <class T>
void shared_delete(T* p) {
  p->~T();
  ::munmap(p, sizeof(T));
}

double raw_ring_msgs_per_s() {
  constexpr std::uint64_t n = 20'000'000;
  raw_ring* r = shared_new<raw_ring>();
  pid_t pid = ::fork();
  if (pid == 0) {
    std::uint64_t head = 0, tail_cache = 0;
    slot s{};
    for (std::uint64_t i = 0; i < n; ++i) {
      s.seq = i;
      r->push(s, head, tail_cache);
    }
    ::_exit(0);
  }
  std::uint64_t tail = 0, head_cache = 0, sum = 0;
  sum += r->pop(tail, head_cache).seq;
  auto t0 = clk::now();
  for (std::uint64_t i = 1; i < n; ++i) sum += r->pop(tail, head_cache).seq;
  double s = std::chrono::duration<double>(clk::now() - t0).count();
  ::waitpid(pid, nullptr, 0);
  shared_delete(r);
  if (sum != n * (n - 1) / 2) return -1;
  return (n - 1) / s;
}

struct ring_pair {
  raw_ring to_child;
  raw_ring to_parent;
};

double raw_ring_rtt_ns() {
  constexpr int rounds = 200'000;
  ring_pair* p = shared_new<ring_pair>();
  pid_t pid = ::fork();
  if (pid == 0) {
    std::uint64_t h = 0, tc = 0, t = 0, hc = 0;
    for (int i = 0; i < rounds + 1000; ++i) p->to_parent.push(p->to_child.pop(t, hc), h, tc);
    ::_exit(0);
  }
  std::uint64_t h = 0, tc = 0, t = 0, hc = 0;
  std::vector<std::int64_t> rtt;
  rtt.reserve(rounds);
  slot s{};
  for (int i = 0; i < rounds + 1000; ++i) {
    s.seq = i;
    auto t0 = clk::now();
    p->to_child.push(s, h, tc);
    p->to_parent.pop(t, hc);
    if (i >= 1000) rtt.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now() - t0).count());
  }
  ::waitpid(pid, nullptr, 0);
  shared_delete(p);
  std::nth_element(rtt.begin(), rtt.begin() + rtt.size() / 2, rtt.end());
  return static_cast<double>(rtt[rtt.size() / 2]);
}

troupe::bench::registrar r1("raw_ring_msgs_per_s", "64-byte messages/s through a bare ring between two processes",
                            raw_ring_msgs_per_s);
troupe::bench::registrar r2("raw_ring_rtt_ns", "median ns per round trip over two bare rings", raw_ring_rtt_ns);

}  // namespace
