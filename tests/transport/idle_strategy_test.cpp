// The shared-memory poll loop's idle strategy, on a clock the test moves:
// spin, then yield, then park; no spinning while the core is contended;
// the cool-down and its doubling.
#include "../../transport/shm/src/idle_strategy.hpp"

#include <gtest/gtest.h>

using namespace troupe::shm_detail;
using namespace std::chrono_literals;

namespace {

using tp = idle_strategy::time_point;

idle_strategy::settings defaults() {
  idle_strategy::settings s;
  s.spin = 50us;
  s.yield = 50us;
  s.lost_core = 20us;
  s.signs = 3;
  s.window = 1ms;
  s.cooldown_min = 10ms;
  s.cooldown_max = 1s;
  return s;
}

// A start far from the clock's epoch, as a real steady_clock reading is.
const tp t0 = tp{} + 1000s;

// Walks an idle stretch from `from` in steps of `step` (a spinning loop
// checks the clock every few polls) until the strategy says something
// other than spin; returns that and when.
std::pair<idle_action, tp> spin_out(idle_strategy& s, tp from, idle_strategy::duration step = 1us) {
  tp now = from;
  for (;;) {
    now += step;
    idle_action a = s.next(now);
    if (a != idle_action::spin) return {a, now};
  }
}

}  // namespace

TEST(idle_strategy, spins_then_yields_then_parks) {
  idle_strategy s(defaults());
  s.on_activity(t0);
  auto [a, when] = spin_out(s, t0);
  EXPECT_EQ(a, idle_action::yield);
  EXPECT_GE(when - t0, 50us);
  EXPECT_LT(when - t0, 52us);
  tp now = when;
  while (s.next(now) == idle_action::yield) {
    s.after_yield(false, now);
    now += 1us;
  }
  EXPECT_EQ(s.next(now), idle_action::park);
  EXPECT_GE(now - t0, 100us);
  EXPECT_LT(now - t0, 102us);
  EXPECT_FALSE(s.contended(now));
}

TEST(idle_strategy, activity_starts_a_new_stretch) {
  idle_strategy s(defaults());
  s.on_activity(t0);
  EXPECT_EQ(spin_out(s, t0).first, idle_action::yield);
  tp later = t0 + 70us;
  s.on_activity(later);
  EXPECT_EQ(s.next(later + 1us), idle_action::spin);
}

TEST(idle_strategy, one_lost_core_is_noise) {
  idle_strategy s(defaults());
  s.on_activity(t0);
  // The loop was off its core for 200 µs once (a kernel worker, the
  // hypervisor): it goes on spinning after the next message.
  EXPECT_EQ(s.next(t0 + 1us), idle_action::spin);
  s.on_activity(t0 + 2us);
  EXPECT_EQ(s.next(t0 + 30us), idle_action::spin);  // a 28 µs gap: a sign
  EXPECT_FALSE(s.contended(t0 + 30us));
  s.on_activity(t0 + 31us);
  EXPECT_EQ(s.next(t0 + 32us), idle_action::spin);
}

TEST(idle_strategy, losing_the_core_while_spinning_stops_the_spinning) {
  idle_strategy s(defaults());
  tp now = t0;
  for (int i = 0; i < 3; ++i) {
    s.on_activity(now);
    now += 30us;  // the peer ran on this core meanwhile
    s.next(now);
    now += 5us;
  }
  EXPECT_TRUE(s.contended(now));
  s.on_activity(now);
  EXPECT_EQ(s.next(now + 100ns), idle_action::yield);  // at once, no spin
}

TEST(idle_strategy, yields_that_let_another_task_run_keep_the_cool_down_going) {
  idle_strategy s(defaults());
  tp now = t0;
  s.on_activity(now);
  for (int i = 0; i < 3; ++i) {
    now += 1us;
    s.after_yield(true, now);
  }
  ASSERT_TRUE(s.contended(now));
  // Two processes taking turns on one core: every yield switches, for far
  // longer than one cool-down.
  tp end = now + 100ms;
  while (now < end) {
    s.on_activity(now);
    EXPECT_EQ(s.next(now + 1us), idle_action::yield);
    now += 4us;
    s.after_yield(true, now);
  }
  EXPECT_TRUE(s.contended(now));
  EXPECT_EQ(s.cooldown(), 10ms);  // ran on, never ended: nothing to double
}

TEST(idle_strategy, spinning_resumes_after_a_quiet_cool_down) {
  idle_strategy s(defaults());
  tp now = t0;
  s.on_activity(now);
  for (int i = 0; i < 3; ++i) s.after_yield(true, now += 1us);
  ASSERT_TRUE(s.contended(now));
  // The other process went away: yields return without switching.
  tp end = now + 11ms;
  while (now < end) {
    s.on_activity(now);
    s.next(now + 1us);
    s.after_yield(false, now += 2us);
  }
  EXPECT_FALSE(s.contended(now));
  s.on_activity(now);
  EXPECT_EQ(s.next(now + 1us), idle_action::spin);
}

TEST(idle_strategy, contention_back_soon_after_a_cool_down_doubles_it_up_to_the_limit) {
  idle_strategy s(defaults());
  tp now = t0;
  auto contend = [&] {
    for (int i = 0; i < 3; ++i) s.after_yield(true, now += 1us);
  };
  contend();
  EXPECT_EQ(s.cooldown(), 10ms);
  idle_strategy::duration expected = 10ms;
  for (int round = 0; round < 10; ++round) {
    now += s.cooldown() + 1ms;  // ended, and back within one cool-down
    ASSERT_FALSE(s.contended(now));
    contend();
    expected = std::min<idle_strategy::duration>(expected * 2, 1s);
    EXPECT_EQ(s.cooldown(), expected);
  }
  EXPECT_EQ(s.cooldown(), 1s);
  // Long gone, then back: small again.
  now += 10s;
  contend();
  EXPECT_EQ(s.cooldown(), 10ms);
}

TEST(idle_strategy, time_spent_outside_the_loop_is_not_a_lost_core) {
  idle_strategy s(defaults());
  tp now = t0;
  for (int i = 0; i < 5; ++i) {
    s.on_activity(now);
    s.next(now + 1us);
    now += 150us;  // the event loop ran timers and sockets
    s.on_resume(now);
    s.on_activity(now);  // and the loop found frames at once
    EXPECT_EQ(s.next(now + 1us), idle_action::spin);
  }
  EXPECT_FALSE(s.contended(now));
}

TEST(idle_strategy, without_spin_or_yield_it_parks_at_once) {
  auto o = defaults();
  o.spin = 0us;
  o.yield = 0us;
  idle_strategy s(o);
  s.on_activity(t0);
  EXPECT_EQ(s.next(t0 + 1ns), idle_action::park);
}
