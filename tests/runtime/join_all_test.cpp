// actor::join_all: waiting until a set of actors has ended.
#include "test_messages.hpp"

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;
using namespace std::chrono_literals;

namespace {

// Ends after `ms` milliseconds, as `how` says: 0 normal, 1 by an exception.
task<void> ends_after(actor& self, int ms, int how) {
  co_await self.sleep_for(std::chrono::milliseconds(ms));
  if (how == 1) throw std::runtime_error("failed after " + std::to_string(ms) + " ms");
}

}  // namespace

TEST(join_all, waits_for_every_actor_and_reports_each_in_the_order_given) {
  node n;
  std::vector<down> downs;
  std::vector<actor_ref> targets;
  n.spawn([&](actor& self) -> task<void> {
    // 1,000 actors ending in an order unlike the order given
    for (int i = 0; i < 1000; ++i) targets.push_back(self.spawn(ends_after, (i * 7919) % 23, i % 5 == 0 ? 1 : 0));
    downs = co_await self.join_all(targets);
  });
  ASSERT_TRUE(n.run());
  ASSERT_EQ(downs.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(downs[i].actor, targets[i]);
    EXPECT_EQ(downs[i].reason, i % 5 == 0 ? exit_reason::error : exit_reason::normal);
  }
  EXPECT_NE(downs[0].detail.find("failed after"), std::string::npos);
  EXPECT_EQ(n.actor_count(), 0u);  // the helper is gone too
}

TEST(join_all, leaves_the_waiters_own_monitors_and_mailbox_alone) {
  node n;
  bool own_down = false, own_message = false;
  n.spawn([&](actor& self) -> task<void> {
    actor_ref t = self.spawn(ends_after, 5, 0);
    self.monitor(t);
    self.send(self.ref(), ping{1});
    std::vector<actor_ref> one{t};
    auto downs = co_await self.join_all(one);
    EXPECT_EQ(downs.size(), 1u);
    own_down = static_cast<bool>(co_await self.receive<down>(duration::zero()));
    own_message = static_cast<bool>(co_await self.receive<ping>(duration::zero()));
  });
  ASSERT_TRUE(n.run());
  EXPECT_TRUE(own_down);     // the waiter's monitor still reported
  EXPECT_TRUE(own_message);  // and nothing else was taken
}

TEST(join_all, actors_already_ended_or_never_there_and_repeats_count_once) {
  node n;
  std::vector<down> downs;
  actor_ref gone;
  n.spawn([&](actor& self) -> task<void> {
    gone = self.spawn(ends_after, 0, 1);
    co_await self.sleep_for(5ms);  // it has ended by now
    actor_ref later = self.spawn(ends_after, 10, 0);
    actor_ref never{self.node().id(), 0xdead0000beefull};
    std::vector<actor_ref> v{gone, later, never, later};
    downs = co_await self.join_all(v);
  });
  ASSERT_TRUE(n.run());
  ASSERT_EQ(downs.size(), 4u);
  EXPECT_EQ(downs[0].reason, exit_reason::error);  // how it ended, not "no such actor"
  EXPECT_EQ(downs[1].reason, exit_reason::normal);
  EXPECT_EQ(downs[2].reason, exit_reason::no_such_actor);
  EXPECT_EQ(downs[3].actor, downs[1].actor);
}

TEST(join_all, an_empty_set_is_joined_at_once) {
  node n;
  bool done = false;
  n.spawn([&](actor& self) -> task<void> {
    std::vector<actor_ref> none;  // (named: g++ 12 miscompiles braced temporaries in co_await)
    auto downs = co_await self.join_all(none);
    EXPECT_TRUE(downs.empty());
    auto timed = co_await self.join_all(none, 1ms);
    EXPECT_TRUE(timed && timed->empty());
    done = true;
  });
  ASSERT_TRUE(n.run());
  EXPECT_TRUE(done);
}

TEST(join_all, a_timed_join_gives_up_and_leaves_nothing_behind) {
  node n;
  std::optional<std::vector<down>> first, second;
  n.spawn([&](actor& self) -> task<void> {
    actor_ref slow = self.spawn(ends_after, 50, 0);
    std::vector<actor_ref> v{slow};
    first = co_await self.join_all(v, 5ms);
    EXPECT_EQ(self.node().actor_count(), 2u);  // the waiter and `slow`: the helper has ended
    second = co_await self.join_all(v, duration::max());
  });
  ASSERT_TRUE(n.run());
  EXPECT_FALSE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->size(), 1u);
}

TEST(join_all, a_killed_actor_is_reported_killed) {
  node n;
  std::vector<down> downs;
  n.spawn([&](actor& self) -> task<void> {
    actor_ref t = self.spawn([](actor& s) -> task<void> { co_await s.receive<stop>(); });
    actor_ref u = self.spawn([](actor& s) -> task<void> { co_await s.receive<stop>(); });
    self.send(u, stop{});
    self.kill(t);
    std::vector<actor_ref> v{t, u};
    downs = co_await self.join_all(v);
  });
  ASSERT_TRUE(n.run());
  ASSERT_EQ(downs.size(), 2u);
  EXPECT_EQ(downs[0].reason, exit_reason::killed);
  EXPECT_EQ(downs[1].reason, exit_reason::normal);
}

TEST(join_all, the_waiter_is_shut_down_while_it_waits) {
  node n;
  bool unwound = false;
  n.spawn([&](actor& self) -> task<void> {
    actor_ref t = self.spawn([](actor& s) -> task<void> { co_await s.receive<stop>(); });
    self.spawn([](actor& s) -> task<void> {
      co_await s.sleep_for(5ms);
      s.node().shutdown();
    });
    std::vector<actor_ref> v{t};
    try {
      co_await self.join_all(v);
    } catch (const actor_shutdown&) {
      unwound = true;
      throw;
    }
  });
  n.run();
  EXPECT_TRUE(unwound);
  EXPECT_EQ(n.actor_count(), 0u);
}
