// How processes linked by shared memory wait: two processes sharing one
// core still answer each other (the waiting one gives the core away), and
// linked processes left in silence sleep instead of polling.
#include "support.hpp"

#include <sched.h>
#include <ctime>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// Answers every seq with the same seq; on done, replies with the CPU
// seconds this process has used, as text.
task<void> seq_echo(actor& self) {
  for (;;) {
    message m = co_await self.receive<seq, done>();
    if (m.is<done>())
      self.send(m.sender(), note{std::to_string(cpu_seconds())});
    else
      self.send(m.sender(), m.get<seq>());
  }
}
TROUPE_ACTOR(seq_echo);

// Pins this process (and the processes it starts) to one core for the
// scope, then gives back the cores it had.
struct one_core {
  cpu_set_t before{};
  bool pinned = false;
  one_core() {
    if (::sched_getaffinity(0, sizeof before, &before) != 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &before)) {
        CPU_SET(c, &one);
        break;
      }
    pinned = ::sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~one_core() {
    if (pinned) ::sched_setaffinity(0, sizeof before, &before);
  }
};

}  // namespace

TEST_F(process_test, two_processes_on_one_core_answer_each_other) {
  one_core pin;
  ASSERT_TRUE(pin.pinned);
  std::uint64_t answered = 0, wrong = 0;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref e = co_await self.spawn(p, seq_echo);
    // Single round trips and bursts: each side waits for the other, which
    // can only run when the waiting one lets go of the core.
    for (std::uint64_t i = 0; i < 5000; ++i) {
      self.send(e, seq{1, i});
      auto m = co_await self.receive<seq>();
      if (m->n != i) ++wrong;
      ++answered;
    }
    for (std::uint64_t burst = 0; burst < 20; ++burst) {
      for (std::uint64_t i = 0; i < 1000; ++i) self.send(e, seq{2, i});
      for (std::uint64_t i = 0; i < 1000; ++i) {
        auto m = co_await self.receive<seq>();
        if (m->n != i) ++wrong;
        ++answered;
      }
    }
  });
  EXPECT_EQ(answered, 25000u);
  EXPECT_EQ(wrong, 0u);
}

TEST_F(process_test, linked_processes_left_in_silence_sleep) {
  double child_share = -1, own_share = -1;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref e = co_await self.spawn(p, seq_echo);
    for (std::uint64_t i = 0; i < 5000; ++i) {
      self.send(e, seq{1, i});
      co_await self.receive<seq>();
    }
    co_await self.sleep_for(100ms);
    self.send(e, done{});
    double theirs0 = std::stod((co_await self.receive<note>())->text);
    double ours0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    co_await self.sleep_for(500ms);
    self.send(e, done{});
    double theirs1 = std::stod((co_await self.receive<note>())->text);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    child_share = (theirs1 - theirs0) / wall;
    own_share = (cpu_seconds() - ours0) / wall;
  });
  // Polling through the silence would use all of a core; sleeping uses
  // next to nothing (troupe-bench's shm_idle_cpu_percent measures it).
  // The bound leaves room for a loaded or instrumented build.
  EXPECT_LT(child_share, 0.05);
  EXPECT_LT(own_share, 0.05);
}
