// The deterministic fixture: step-by-step delivery and a virtual clock.
#include "test_messages.hpp"

#include <troupe/testing.hpp>

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;
using namespace std::chrono_literals;

namespace {

// A small actor with a timeout: answers pings, says "idle" after 5 s quiet.
task<void> watchdog(actor& self, actor_ref report) {
  for (;;) {
    auto m = co_await self.receive<ping>(5s);
    if (!m) {
      self.send(report, text{"idle"});
      co_return;
    }
    self.send(report, pong{m->n});
  }
}

task<void> sink(actor& self) {
  for (;;) co_await self.receive<stop>();
}

}  // namespace

TEST(deterministic, nothing_runs_until_the_test_says) {
  deterministic_node t;
  actor_ref s = t.spawn(sink);
  actor_ref w = t.spawn(watchdog, s);
  EXPECT_EQ(t.next_ready(), s);
  t.send(w, ping{1});
  EXPECT_EQ(t.mailbox_size(w), 1u);
  EXPECT_TRUE(t.run_once());  // sink starts and waits
  EXPECT_TRUE(t.run_once());  // watchdog starts, takes ping 1, sends pong 1 to sink
  EXPECT_EQ(t.mailbox_size(w), 0u);
  ASSERT_NE(t.peek<pong>(s), nullptr);
  EXPECT_EQ(t.peek<pong>(s)->n, 1u);
  EXPECT_EQ(t.mailbox_size(s), 1u);  // the sink only takes `stop`
}

TEST(deterministic, virtual_time_fires_timeouts_exactly) {
  deterministic_node t;
  actor_ref s = t.spawn(sink);
  actor_ref w = t.spawn(watchdog, s);
  t.run();
  auto due = t.next_timeout();
  ASSERT_TRUE(due);
  EXPECT_EQ(*due - t.now(), 5s);
  t.advance_time(4999ms);
  EXPECT_EQ(t.run(), 0u);  // not yet
  EXPECT_TRUE(t.alive(w));
  t.advance_time(1ms);
  EXPECT_EQ(t.run(), 1u);
  EXPECT_FALSE(t.alive(w));
  ASSERT_NE(t.peek<text>(s), nullptr);
  EXPECT_EQ(t.peek<text>(s)->s, "idle");
}

TEST(deterministic, a_message_resets_the_watchdog) {
  deterministic_node t;
  actor_ref s = t.spawn(sink);
  actor_ref w = t.spawn(watchdog, s);
  t.run();
  t.advance_time(4s);
  t.send(w, ping{2});
  t.run();
  t.advance_time(4s);  // 8 s after start, 4 s after the ping
  t.run();
  EXPECT_TRUE(t.alive(w));
  t.advance_time(1s);
  t.run();
  EXPECT_FALSE(t.alive(w));
}

TEST(deterministic, request_timeout_under_virtual_time) {
  deterministic_node t;
  actor_ref mute = t.spawn(sink);
  std::optional<request_errc> code;
  t.spawn([&](actor& self) -> task<void> {
    try {
      co_await self.request<pong>(mute, ping{1}, 30s);
    } catch (const request_error& e) {
      code = e.code();
    }
  });
  t.run();
  EXPECT_FALSE(code);
  t.advance_time(30s);
  t.run();
  EXPECT_EQ(code, request_errc::timeout);
}
