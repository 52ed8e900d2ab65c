// A full mailbox suspends the sender at `co_await self.throttle()`; memory
// stays bounded however fast the producer is.
#include "test_messages.hpp"

#include <troupe/testing.hpp>

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;

TEST(backpressure, throttle_suspends_while_the_mailbox_is_full) {
  deterministic_node t;
  actor_ref slow = t.spawn(spawn_options{.mailbox_capacity = 8}, [](actor& self) -> task<void> {
    for (;;) co_await self.receive<stop>();  // never takes pings
  });
  int sent = 0;
  t.spawn([&](actor& self) -> task<void> {
    for (int i = 0; i < 100; ++i) {
      self.send(slow, ping{static_cast<std::uint64_t>(i)});
      ++sent;
      co_await self.throttle();
    }
  });
  t.run();
  // One message past the capacity, then the sender waits.
  EXPECT_EQ(t.mailbox_size(slow), 9u);
  EXPECT_EQ(sent, 9);
}

TEST(backpressure, throttle_is_free_when_nothing_is_congested) {
  deterministic_node t;
  actor_ref sink = t.spawn([](actor& self) -> task<void> {
    for (;;) co_await self.receive<stop>();
  });
  std::size_t resumes = 0;
  t.spawn([&](actor& self) -> task<void> {
    for (int i = 0; i < 100; ++i) {
      self.send(sink, ping{});
      co_await self.throttle();
    }
  });
  resumes = t.run();
  EXPECT_EQ(resumes, 2u);  // each actor ran once: throttle never suspended
  EXPECT_EQ(t.mailbox_size(sink), 100u);
}

TEST(backpressure, producer_far_faster_than_consumer_stays_bounded) {
  node n;
  std::size_t max_seen = 0;
  std::uint64_t received = 0;
  actor_ref consumer = n.spawn(spawn_options{.mailbox_capacity = 64}, [&](actor& self) -> task<void> {
    for (;;) {
      max_seen = std::max(max_seen, self.mailbox_size());
      auto m = co_await self.receive<ping>();
      ++received;
      if (m->n == 99999) co_return;
      if (received % 100 == 0) co_await self.yield();  // slow: lets the producer run often
    }
  });
  n.spawn([&](actor& self) -> task<void> {
    for (std::uint64_t i = 0; i < 100000; ++i) {
      self.send(consumer, ping{i});
      co_await self.throttle();
    }
  });
  n.run();
  EXPECT_EQ(received, 100000u);
  EXPECT_LE(max_seen, 65u);  // capacity plus the one message a sender may overshoot by
}

TEST(backpressure, send_itself_never_suspends) {
  deterministic_node t;
  actor_ref slow = t.spawn(spawn_options{.mailbox_capacity = 2}, [](actor& self) -> task<void> {
    for (;;) co_await self.receive<stop>();
  });
  bool done = false;
  t.spawn([&](actor& self) -> task<void> {
    for (int i = 0; i < 10; ++i) self.send(slow, ping{});
    done = true;
    co_return;
  });
  t.run();
  EXPECT_TRUE(done);
  EXPECT_EQ(t.mailbox_size(slow), 10u);
}

TEST(backpressure, throttled_sender_resumes_when_the_receiver_dies) {
  deterministic_node t;
  actor_ref slow = t.spawn(spawn_options{.mailbox_capacity = 1}, [](actor& self) -> task<void> {
    for (;;) co_await self.receive<stop>();
  });
  bool finished = false;
  t.spawn([&](actor& self) -> task<void> {
    for (int i = 0; i < 5; ++i) {
      self.send(slow, ping{});
      co_await self.throttle();
    }
    finished = true;
  });
  t.run();
  EXPECT_FALSE(finished);
  t.node().kill(slow);
  t.run();
  EXPECT_TRUE(finished);  // the remaining sends are dead letters, not a hang
}

TEST(backpressure, shutdown_wakes_a_throttled_sender) {
  deterministic_node t;
  actor_ref slow = t.spawn(spawn_options{.mailbox_capacity = 1}, [](actor& self) -> task<void> {
    for (;;) co_await self.receive<stop>();
  });
  bool unwound = false;
  t.spawn([&](actor& self) -> task<void> {
    try {
      for (;;) {
        self.send(slow, ping{});
        co_await self.throttle();
      }
    } catch (const actor_shutdown&) {
      unwound = true;
    }
  });
  t.run();
  t.node().shutdown();
  t.run();
  EXPECT_TRUE(unwound);
  EXPECT_EQ(t.actor_count(), 0u);
}
