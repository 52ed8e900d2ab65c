// Monitors: down on normal exit, on exception, on kill, for the nonexistent.
#include "test_messages.hpp"

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;

namespace {

std::optional<down> watch(node& n, actor_ref target) {
  std::optional<down> d;
  n.spawn([&d, target](actor& self) -> task<void> {
    self.monitor(target);
    self.send(target, stop{});
    auto m = co_await self.receive<down>();
    EXPECT_EQ(m.sender(), target);
    d = *m;
  });
  n.run();
  return d;
}

}  // namespace

TEST(monitor, normal_exit) {
  node n;
  actor_ref t = n.spawn([](actor& self) -> task<void> { co_await self.receive<stop>(); });
  auto d = watch(n, t);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->actor, t);
  EXPECT_EQ(d->reason, exit_reason::normal);
}

TEST(monitor, exception_text_is_the_reason) {
  node n;
  actor_ref t = n.spawn([](actor& self) -> task<void> {
    co_await self.receive<stop>();
    throw std::runtime_error("disk on fire");
  });
  auto d = watch(n, t);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, exit_reason::error);
  EXPECT_EQ(d->detail, "disk on fire");
}

TEST(monitor, nonexistent_target_gives_down_at_once) {
  node n;
  actor_ref t = n.spawn([](actor&) -> task<void> { co_return; });
  n.run();
  auto d = watch(n, t);  // it ended: that is remembered
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, exit_reason::normal);
  auto never = watch(n, actor_ref{n.id(), (std::uint64_t{7} << 32) | 999});
  ASSERT_TRUE(never);
  EXPECT_EQ(never->reason, exit_reason::no_such_actor);
}

TEST(monitor, every_watcher_hears_and_demonitor_stops_it) {
  node n;
  actor_ref t = n.spawn([](actor& self) -> task<void> { co_await self.receive<stop>(); });
  int downs = 0;
  for (int i = 0; i < 3; ++i)
    n.spawn([&, t](actor& self) -> task<void> {
      self.monitor(t);
      co_await self.receive<down>();
      ++downs;
    });
  bool quiet = false;
  n.spawn([&, t](actor& self) -> task<void> {
    self.monitor(t);
    self.demonitor(t);
    co_await self.yield();
    self.send(t, stop{});
    auto m = co_await self.receive<down>(std::chrono::milliseconds(20));
    quiet = !m;
  });
  n.run();
  EXPECT_EQ(downs, 3);
  EXPECT_TRUE(quiet);
}

// An actor started elsewhere can end before its starter monitors it: the
// down then still says how it ended (it is remembered for a while), not
// merely that there is no such actor.
TEST(monitor, a_monitor_placed_just_after_the_end_reports_the_real_reason) {
  node n;
  down seen;
  actor_ref quick = n.spawn([](actor&) -> task<void> {
    throw std::runtime_error("crashed at once");
    co_return;
  });
  n.spawn([&, quick](actor& self) -> task<void> {
    co_await self.yield();  // `quick` has ended by now
    self.monitor(quick);
    auto d = co_await self.receive<down>();
    seen = *d;
    self.monitor(actor_ref{n.id(), 12345});  // never was
    auto none = co_await self.receive<down>();
    EXPECT_EQ(none->reason, exit_reason::no_such_actor);
  });
  n.run();
  EXPECT_EQ(seen.reason, exit_reason::error);
  EXPECT_NE(seen.detail.find("crashed at once"), std::string::npos) << seen.detail;
}
