// A receiver's bound holds for senders in other processes: credits travel
// back per receiver, so a throttling sender is paced by a slow receiver and
// a slow receiver holds up nobody else on the same link.
#include "support.hpp"

#include <troupe/actors.hpp>

#include <cstring>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

struct small {  // 64 bytes, as in the scenario of the issue
  std::uint64_t n = 0;
  char pad[56] = {};
};
struct report {
  std::uint64_t received = 0;
  std::uint64_t max_mailbox = 0;
};
struct go {};
struct progress {
  std::uint64_t sent = 0;
};

}  // namespace

TROUPE_MESSAGE(small);
TROUPE_MESSAGE(report);
TROUPE_MESSAGE(go);
TROUPE_MESSAGE(progress);

namespace {

// Takes `count` messages, sleeping 1 ms every 1000, then reports.
task<void> slow_consumer(actor& self, actor_ref to, std::uint64_t count) {
  report r;
  while (r.received < count) {
    r.max_mailbox = std::max<std::uint64_t>(r.max_mailbox, self.mailbox_size());
    co_await self.receive<small>();
    if (++r.received % 1000 == 0) co_await self.sleep_for(1ms);
  }
  self.send(to, r);
}
TROUPE_ACTOR(slow_consumer);

// Takes nothing until told to go, then `count` messages.
task<void> gated_consumer(actor& self, actor_ref to, std::uint64_t count) {
  co_await self.receive<go>();
  report r;
  r.max_mailbox = self.mailbox_size();
  while (r.received < count) {
    co_await self.receive<small>();
    ++r.received;
  }
  self.send(to, r);
}
TROUPE_ACTOR(gated_consumer);

task<void> fast_consumer(actor& self, actor_ref to, std::uint64_t count) {
  report r;
  while (r.received < count) {
    r.max_mailbox = std::max<std::uint64_t>(r.max_mailbox, self.mailbox_size());
    co_await self.receive<small>();
    ++r.received;
  }
  self.send(to, r);
}
TROUPE_ACTOR(fast_consumer);

// The guide's form: send, then throttle.
task<void> throttled_producer(actor& self, actor_ref to, std::uint64_t count, std::uint64_t* sent) {
  for (std::uint64_t i = 0; i < count; ++i) {
    self.send(to, small{i, {}});
    ++*sent;
    co_await self.throttle();
  }
}

// A pipe writer in a child process, reporting its progress to `watch`.
task<void> paced_pipe_writer(actor& self, pipe_end<std::uint64_t> end, std::uint64_t count, actor_ref watch) {
  for (std::uint64_t i = 0; i < count; ++i) {
    end.send(self, i);
    co_await self.throttle();
    if ((i + 1) % 500 == 0) self.send(watch, progress{i + 1});
  }
  end.close(self);
}
TROUPE_ACTOR(paced_pipe_writer);

}  // namespace

TEST_F(process_test, a_slow_consumer_in_another_process_paces_a_throttling_producer) {
  constexpr std::uint64_t count = 300000;
  std::uint64_t sent = 0;
  std::optional<report> r;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref c = co_await self.spawn(p, slow_consumer, self.ref(), count);
    self.spawn(throttled_producer, c, count, &sent);
    r = *co_await self.receive<report>();
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->received, count);
  // One window of credit for the one sending process; without credits it
  // grows to most of `count`.
  EXPECT_LE(r->max_mailbox, detail::flow_window_messages + 16);
}

TEST_F(process_test, a_slow_receiver_does_not_hold_up_a_fast_one_on_the_same_link) {
  constexpr std::uint64_t count = 4 * detail::flow_window_messages;
  std::uint64_t sent_slow = 0, sent_fast = 0, sent_slow_when_fast_done = 0;
  std::optional<report> slow, fast;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref s = co_await self.spawn(p, gated_consumer, self.ref(), count);
    actor_ref f = co_await self.spawn(p, fast_consumer, self.ref(), count);
    self.spawn(throttled_producer, s, count, &sent_slow);
    self.spawn(throttled_producer, f, count, &sent_fast);
    fast = *co_await self.receive<report>();
    sent_slow_when_fast_done = sent_slow;
    self.send(s, go{});
    slow = *co_await self.receive<report>();
  });
  ASSERT_TRUE(fast && slow);
  EXPECT_EQ(fast->received, count);
  EXPECT_EQ(sent_fast, count);
  // The stalled receiver's producer stopped at about one window...
  EXPECT_LE(sent_slow_when_fast_done, detail::flow_window_messages + 16);
  EXPECT_LE(slow->max_mailbox, detail::flow_window_messages + 16);
  // ...and everything went through once it read.
  EXPECT_EQ(slow->received, count);
  EXPECT_EQ(sent_slow, count);
}

TEST_F(process_test, a_pipe_writer_in_a_child_process_is_paced_by_its_reader) {
  constexpr std::uint64_t count = 3 * (detail::flow_window_messages + detail::pipe_capacity);
  std::uint64_t read = 0, max_lead = 0, bad = 0;
  run_program([&](actor& self) -> task<void> {
    auto [reader, writer] = make_pipe<std::uint64_t>(self, false);
    process p = co_await self.spawn_process(paced_pipe_writer, writer, count, self.ref());
    for (;;) {
      while (auto m = co_await self.receive<progress>(duration::zero()))
        max_lead = std::max(max_lead, m->sent - std::min(m->sent, read));
      std::uint64_t x;
      try {
        x = co_await reader.recv(self);
      } catch (const pipe_closed&) {
        break;
      }
      if (x != read) ++bad;
      if (++read % 1000 == 0) co_await self.sleep_for(2ms);
    }
    co_await p.join(self);
  });
  EXPECT_EQ(read, count);
  EXPECT_EQ(bad, 0u);
  // What the writer may be ahead: the pipe's buffer, one window of credit
  // and a progress step; unpaced it runs all the way ahead.
  EXPECT_LE(max_lead, detail::pipe_capacity + detail::flow_window_messages + 500 + 16);
}
