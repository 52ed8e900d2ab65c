// Timeouts fire on the real clock too (no timing asserted, only outcomes).
#include "test_messages.hpp"

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;
using namespace std::chrono_literals;

TEST(timeout, receive_gives_up_and_returns_empty) {
  node n;
  bool empty = false;
  n.spawn([&](actor& self) -> task<void> {
    auto m = co_await self.receive<ping>(1ms);
    empty = !m;
  });
  EXPECT_TRUE(n.run());
  EXPECT_TRUE(empty);
}

TEST(timeout, message_before_the_deadline_wins_and_cancels_the_timer) {
  node n;
  std::optional<std::uint64_t> got;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    auto m = co_await self.receive<ping>(10s);
    if (m) got = m->n;
  });
  n.spawn([r](actor& self) -> task<void> {
    self.send(r, ping{7});
    co_return;
  });
  EXPECT_TRUE(n.run());  // returns at once: no 10 s timer left behind holding the loop
  EXPECT_EQ(got, 7u);
}

TEST(timeout, many_timers_fire_in_deadline_order) {
  node n;
  std::vector<int> order;
  for (int i : {5, 1, 4, 2, 3})
    n.spawn([&order, i](actor& self) -> task<void> {
      co_await self.sleep_for(std::chrono::milliseconds(i * 3));
      order.push_back(i);
    });
  n.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(timeout, untimed_receive_does_not_time_out_while_messages_flow) {
  node n;
  int got = 0;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    for (int i = 0; i < 3; ++i) {
      co_await self.receive<ping>();
      ++got;
    }
  });
  n.spawn([r](actor& self) -> task<void> {
    for (int i = 0; i < 3; ++i) {
      co_await self.sleep_for(2ms);
      self.send(r, ping{});
    }
  });
  n.run();
  EXPECT_EQ(got, 3);
}

// --- the extremes: any duration means that long ------------------------------

TEST(timeout, receive_with_the_largest_duration_waits) {
  node n;
  std::optional<std::uint64_t> got;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    auto m = co_await self.receive<ping>(duration::max());
    if (m) got = m->n;
  });
  n.spawn([r](actor& self) -> task<void> {
    co_await self.sleep_for(20ms);
    self.send(r, ping{9});
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(got, 9u);
}

TEST(timeout, sleep_for_the_largest_duration_sleeps) {
  node n;
  bool woke = false;
  bool still_asleep = false;
  actor_ref sleeper = n.spawn([&](actor& self) -> task<void> {
    co_await self.sleep_for(duration::max());
    woke = true;
  });
  n.spawn([&](actor& self) -> task<void> {
    co_await self.sleep_for(20ms);
    still_asleep = !woke;
    self.kill(sleeper);
  });
  EXPECT_TRUE(n.run());
  EXPECT_TRUE(still_asleep);
  EXPECT_FALSE(woke);
}

TEST(timeout, large_durations_in_other_units_saturate) {
  node n;
  std::optional<std::uint64_t> got;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    auto m = co_await self.receive<ping>(std::chrono::duration_cast<duration>(std::chrono::hours(24 * 365 * 200)));
    if (m) got = m->n;
  });
  n.spawn([r](actor& self) -> task<void> {
    co_await self.sleep_for(10ms);
    self.send(r, ping{3});
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(got, 3u);
}

TEST(timeout, the_smallest_and_negative_durations_give_up_at_once) {
  node n;
  int empties = 0;
  n.spawn([&](actor& self) -> task<void> {
    if (!co_await self.receive<ping>(duration::min())) ++empties;
    if (!co_await self.receive<ping>(-5s)) ++empties;
    if (!co_await self.receive<ping>(duration::zero())) ++empties;
    co_await self.sleep_for(duration::min());
    co_await self.sleep_for(-1s);
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(empties, 3);
}
