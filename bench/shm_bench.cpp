// Shared-memory figures: troupe actors in two processes.
#include "bench.hpp"

#include <troupe/troupe.hpp>

#include <algorithm>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <sched.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

struct shm_msg64 {
  std::uint64_t seq = 0;
  char pad[56] = {};
};
struct shm_record {
  std::uint64_t id = 0;
  std::string text;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & id & text;
  }
};
struct shm_chunk {
  std::vector<char> bytes;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & bytes;
  }
};
struct shm_ping {
  std::uint64_t n = 0;
};
struct shm_peak {
  double mb = 0;
};
struct shm_cpu {
  double seconds = 0;
};
struct shm_done {};

}  // namespace

TROUPE_MESSAGE(shm_msg64);
TROUPE_MESSAGE(shm_record);
TROUPE_MESSAGE(shm_chunk);
TROUPE_MESSAGE(shm_ping);
TROUPE_MESSAGE(shm_peak);
TROUPE_MESSAGE(shm_cpu);
TROUPE_MESSAGE(shm_done);

namespace {

using namespace troupe;

task<void> send_msg64(actor& self, actor_ref to, std::uint64_t n) {
  shm_msg64 m;
  for (std::uint64_t i = 0; i < n; ++i) {
    m.seq = i;
    co_await self.send(to, m);
  }
}
TROUPE_ACTOR(send_msg64);

// The baseline: plain sends, each followed by co_await throttle().
task<void> send_throttle_msg64(actor& self, actor_ref to, std::uint64_t n) {
  shm_msg64 m;
  for (std::uint64_t i = 0; i < n; ++i) {
    m.seq = i;
    self.send(to, m);
    co_await self.throttle();
  }
}
TROUPE_ACTOR(send_throttle_msg64);

task<void> send_records(actor& self, actor_ref to, std::uint64_t n) {
  shm_record r{0, std::string(56, 'r')};
  for (std::uint64_t i = 0; i < n; ++i) {
    r.id = i;
    self.send(to, r);
    co_await self.throttle();
  }
}
TROUPE_ACTOR(send_records);

task<void> send_chunks(actor& self, actor_ref to, std::uint64_t n) {
  shm_chunk c;
  c.bytes.assign(1u << 20, 'c');
  for (std::uint64_t i = 0; i < n; ++i) {
    self.send(to, c);
    co_await self.throttle();
  }
}
TROUPE_ACTOR(send_chunks);

task<void> shm_echo(actor& self) {
  for (;;) {
    auto m = co_await self.receive<shm_ping>();
    self.send(m.sender(), *m);
  }
}
TROUPE_ACTOR(shm_echo);

// Runs `root` as a troupe program in this process (a fresh cluster).
template <class F>
void program(F&& root) {
  troupe::run(bench::argc, bench::argv, std::forward<F>(root));
}

// Messages/s counted at the receiver (this process) from the first to the last.
template <class M, class Sender>
double rate(Sender sender, std::uint64_t n) {
  double per_s = 0;
  program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    co_await self.spawn(p, sender, self.ref(), n);
    co_await self.receive<M>();
    auto t0 = clk::now();
    for (std::uint64_t i = 1; i < n; ++i) co_await self.receive<M>();
    per_s = (n - 1) / std::chrono::duration<double>(clk::now() - t0).count();
  });
  return per_s;
}

double shm_msgs_per_s() { return rate<shm_msg64>(send_msg64, 10'000'000); }
double shm_send_throttle_msgs_per_s() { return rate<shm_msg64>(send_throttle_msg64, 10'000'000); }
double shm_serialized_msgs_per_s() { return rate<shm_record>(send_records, 3'000'000); }
double shm_gbytes_per_s() { return rate<shm_chunk>(send_chunks, 3000) * (1u << 20) / 1e9; }

std::vector<std::int64_t> last_rtts;

double shm_rtt_ns() {
  constexpr int rounds = 200'000;
  last_rtts.clear();
  program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref e = co_await self.spawn(p, shm_echo);
    for (int i = 0; i < rounds + 1000; ++i) {
      auto t0 = clk::now();
      self.send(e, shm_ping{static_cast<std::uint64_t>(i)});
      co_await self.receive<shm_ping>();
      if (i >= 1000) last_rtts.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now() - t0).count());
    }
  });
  std::sort(last_rtts.begin(), last_rtts.end());
  return static_cast<double>(last_rtts[last_rtts.size() / 2]);
}

double shm_rtt_p99_ns() {
  shm_rtt_ns();
  return static_cast<double>(last_rtts[last_rtts.size() * 99 / 100]);
}

// Both processes of the ping-pong on one core (the child inherits the
// affinity): each one-way message waits until the other process gets the
// core, so what matters is how soon an idle process gives it away.
double rtt_one_core() {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  if (::sched_setaffinity(0, sizeof one, &one) != 0) return -1;
  return shm_rtt_ns();
}
bench::child_registrar c2("shm_rtt_one_core_ns", rtt_one_core);
double shm_rtt_one_core_ns() { return bench::run_child("shm_rtt_one_core_ns"); }

// Four sender processes to one receiver (this process): five busy processes
// on the machine's cores. Messages/s counted at the receiver.
double shm_msgs_per_s_oversubscribed() {
  constexpr int senders = 4;
  constexpr std::uint64_t per_sender = 2'500'000;
  double per_s = 0;
  program([&](actor& self) -> task<void> {
    std::vector<process> ps;
    for (int i = 0; i < senders; ++i) ps.push_back(co_await self.spawn_process());
    for (auto& p : ps) co_await self.spawn(p, send_msg64, self.ref(), per_sender);
    co_await self.receive<shm_msg64>();
    auto t0 = clk::now();
    for (std::uint64_t i = 1; i < senders * per_sender; ++i) co_await self.receive<shm_msg64>();
    per_s = (senders * per_sender - 1) / std::chrono::duration<double>(clk::now() - t0).count();
  });
  return per_s;
}

double cpu_seconds_of_this_process() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// Answers each ping; on shm_done reports the CPU time this process has used.
task<void> idle_peer(actor& self) {
  for (;;) {
    auto m = co_await self.receive<shm_ping, shm_done>();
    if (m.is<shm_done>())
      self.send(m.sender(), shm_cpu{cpu_seconds_of_this_process()});
    else
      self.send(m.sender(), *m.get_if<shm_ping>());
  }
}
TROUPE_ACTOR(idle_peer);

// Two processes exchange traffic, then stay silent: after 100 ms of
// silence, the CPU share (percent of one core) the busier of the two uses
// over the next second.
double shm_idle_cpu_percent() {
  double percent = -1;
  program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref e = co_await self.spawn(p, idle_peer);
    for (std::uint64_t i = 0; i < 10'000; ++i) {
      self.send(e, shm_ping{i});
      co_await self.receive<shm_ping>();
    }
    co_await self.sleep_for(std::chrono::milliseconds(100));
    self.send(e, shm_done{});
    double theirs0 = (co_await self.receive<shm_cpu>())->seconds;
    double ours0 = cpu_seconds_of_this_process();
    auto t0 = clk::now();
    co_await self.sleep_for(std::chrono::seconds(1));
    self.send(e, shm_done{});
    double theirs1 = (co_await self.receive<shm_cpu>())->seconds;
    double ours1 = cpu_seconds_of_this_process();
    double wall = std::chrono::duration<double>(clk::now() - t0).count();
    percent = 100 * std::max(theirs1 - theirs0, ours1 - ours0) / wall;
  });
  return percent;
}

// Peak resident memory of this process (VmHWM), in MB.
double peak_rss_mb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  double kb = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmHWM: %lf kB", &kb) == 1) break;
  std::fclose(f);
  return kb / 1024;
}

// The slow consumer of the flow-control scenario: takes 64-byte messages,
// sleeping 1 ms every 1000, then reports its peak memory.
task<void> slow_msg64_consumer(actor& self, actor_ref report, std::uint64_t n) {
  for (std::uint64_t i = 1; i <= n; ++i) {
    co_await self.receive<shm_msg64>();
    if (i % 1000 == 0) co_await self.sleep_for(std::chrono::milliseconds(1));
  }
  self.send(report, shm_peak{peak_rss_mb()});
}
TROUPE_ACTOR(slow_msg64_consumer);

// A producer throttling after every send, to a slow consumer in another
// process: the larger peak memory of the two (run in a fresh process).
double slow_consumer_peak() {
  constexpr std::uint64_t n = 2'000'000;
  double peak = -1;
  program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref c = co_await self.spawn(p, slow_msg64_consumer, self.ref(), n);
    shm_msg64 m;
    for (std::uint64_t i = 0; i < n; ++i) {
      m.seq = i;
      self.send(c, m);
      co_await self.throttle();
    }
    double theirs = (co_await self.receive<shm_peak>())->mb;
    peak = std::max(theirs, peak_rss_mb());
  });
  return peak;
}
bench::child_registrar c1("shm_slow_consumer_peak_rss_mb", slow_consumer_peak);
double shm_slow_consumer_peak_rss_mb() { return bench::run_child("shm_slow_consumer_peak_rss_mb"); }

double process_spawn_ms() {
  double ms = 0;
  program([&](actor& self) -> task<void> {
    auto t0 = clk::now();
    process p = co_await self.spawn_process();
    actor_ref e = co_await self.spawn(p, shm_echo);
    self.send(e, shm_ping{1});
    co_await self.receive<shm_ping>();
    ms = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
  });
  return ms;
}

bench::registrar r1("shm_msgs_per_s", "64-byte messages/s, one process to another", shm_msgs_per_s);
bench::registrar r1b("shm_send_throttle_msgs_per_s", "the same with send + co_await throttle() (baseline)",
                     shm_send_throttle_msgs_per_s);
bench::registrar r2("shm_serialized_msgs_per_s", "{u64, 56-byte string} messages/s, one process to another",
                    shm_serialized_msgs_per_s);
bench::registrar r3("shm_rtt_ns", "median ns per ping-pong round trip between two processes", shm_rtt_ns);
bench::registrar r4("shm_rtt_p99_ns", "99th percentile of the same", shm_rtt_p99_ns);
bench::registrar r3b("shm_rtt_one_core_ns",
                     "median ns per ping-pong round trip, both processes pinned to one core", shm_rtt_one_core_ns);
bench::registrar r1c("shm_msgs_per_s_oversubscribed",
                     "64-byte messages/s from 4 sender processes to 1 receiver (5 processes on the cores there are)",
                     shm_msgs_per_s_oversubscribed);
bench::registrar r8("shm_idle_cpu_percent",
                    "percent of a core the busier of two linked processes uses in 1 s, after 100 ms of silence",
                    shm_idle_cpu_percent);
bench::registrar r5("shm_gbytes_per_s", "GB/s of 1 MiB messages, one process to another", shm_gbytes_per_s);
bench::registrar r7("shm_slow_consumer_peak_rss_mb",
                    "peak MB (the larger process) of 2M 64-byte messages, throttled, to a consumer in another "
                    "process sleeping 1 ms per 1000",
                    shm_slow_consumer_peak_rss_mb);
bench::registrar r6("process_spawn_ms", "ms from spawn_process to the first message answered there",
                    process_spawn_ms);

}  // namespace
