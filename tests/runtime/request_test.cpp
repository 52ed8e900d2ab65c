// request/reply: correlation, errors, timeouts, and replies that come late.
#include "test_messages.hpp"

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;
using namespace std::chrono_literals;

namespace {

task<void> doubler(actor& self) {
  for (;;) {
    auto m = co_await self.receive<ping>();
    if (m->n == 0) co_return;  // ends without answering
    self.reply(m, pong{m->n * 2});
  }
}

}  // namespace

TEST(request, gets_the_correlated_reply) {
  node n;
  actor_ref d = n.spawn(doubler);
  std::vector<std::uint64_t> got;
  n.spawn([&](actor& self) -> task<void> {
    for (std::uint64_t i = 1; i <= 5; ++i) {
      auto r = co_await self.request<pong>(d, ping{i}, 1s);
      got.push_back(r->n);
    }
    self.kill(d);
  });
  n.run();
  EXPECT_EQ(got, (std::vector<std::uint64_t>{2, 4, 6, 8, 10}));
}

TEST(request, reply_does_not_land_in_the_ordinary_mailbox) {
  node n;
  actor_ref d = n.spawn(doubler);
  n.spawn([&](actor& self) -> task<void> {
    self.send(self.ref(), text{"mine"});
    auto r = co_await self.request<pong>(d, ping{3}, 1s);
    EXPECT_EQ(r->n, 6u);
    EXPECT_EQ(self.mailbox_size(), 1u);
    auto t = co_await self.receive<text>();
    EXPECT_EQ(t->s, "mine");
    self.kill(d);
  });
  n.run();
}

TEST(request, to_a_dead_actor_fails_at_once) {
  node n;
  actor_ref gone = n.spawn([](actor&) -> task<void> { co_return; });
  n.run();
  std::optional<request_errc> code;
  n.spawn([&](actor& self) -> task<void> {
    try {
      co_await self.request<pong>(gone, ping{1}, 10s);
    } catch (const request_error& e) {
      code = e.code();
    }
  });
  n.run();
  EXPECT_EQ(code, request_errc::no_such_actor);
}

TEST(request, fails_when_the_target_ends_without_answering) {
  node n;
  actor_ref d = n.spawn(doubler);
  std::optional<request_error> err;
  n.spawn([&](actor& self) -> task<void> {
    try {
      co_await self.request<pong>(d, ping{0}, 10s);  // 0 makes it return without a reply
    } catch (const request_error& e) {
      err = e;
    }
  });
  n.run();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code(), request_errc::actor_down);
  EXPECT_NE(std::string(err->what()).find("before answering"), std::string::npos) << err->what();
}

TEST(request, fails_when_the_target_dies_with_the_request_in_its_mailbox) {
  node n;
  actor_ref sleeper = n.spawn([](actor& self) -> task<void> { co_await self.receive<stop>(); });
  std::optional<request_errc> code;
  n.spawn([&](actor& self) -> task<void> {
    try {
      co_await self.request<pong>(sleeper, ping{1}, 10s);
    } catch (const request_error& e) {
      code = e.code();
    }
  });
  n.spawn([&](actor& self) -> task<void> {
    co_await self.yield();
    self.kill(sleeper);
  });
  n.run();
  EXPECT_EQ(code, request_errc::actor_down);
}

TEST(request, unexpected_reply_type_is_an_error) {
  node n;
  actor_ref d = n.spawn([](actor& self) -> task<void> {
    auto m = co_await self.receive<ping>();
    self.reply(m, text{"not a pong"});
  });
  std::optional<request_errc> code;
  n.spawn([&](actor& self) -> task<void> {
    try {
      co_await self.request<pong>(d, ping{1}, 1s);
    } catch (const request_error& e) {
      code = e.code();
    }
  });
  n.run();
  EXPECT_EQ(code, request_errc::unexpected_reply);
}

TEST(request, times_out_and_a_late_reply_is_dropped) {
  node n;
  actor_ref slow = n.spawn([](actor& self) -> task<void> {
    auto m = co_await self.receive<ping>();
    co_await self.sleep_for(50ms);
    self.reply(m, pong{1});
  });
  std::optional<request_errc> code;
  std::size_t mailbox_after = 99;
  n.spawn([&](actor& self) -> task<void> {
    try {
      co_await self.request<pong>(slow, ping{1}, 5ms);
    } catch (const request_error& e) {
      code = e.code();
    }
    co_await self.sleep_for(100ms);  // the reply arrives meanwhile
    mailbox_after = self.mailbox_size();
  });
  n.run();
  EXPECT_EQ(code, request_errc::timeout);
  EXPECT_EQ(mailbox_after, 0u);
}

// --- several requests outstanding ------------------------------------------

TEST(request, three_outstanding_requests_each_get_their_reply) {
  node n;
  actor_ref d = n.spawn(doubler);
  std::vector<std::uint64_t> got;
  n.spawn([&](actor& self) -> task<void> {
    auto a = self.request<pong>(d, ping{1}, 2s);
    auto b = self.request<pong>(d, ping{2}, 2s);
    auto c = self.request<pong>(d, ping{3}, 2s);
    got.push_back((co_await a)->n);
    got.push_back((co_await b)->n);
    got.push_back((co_await c)->n);
    self.kill(d);
  });
  n.run();
  EXPECT_EQ(got, (std::vector<std::uint64_t>{2, 4, 6}));
}

TEST(request, a_thousand_outstanding_requests_awaited_in_reverse_order) {
  node n;
  actor_ref d = n.spawn(doubler);
  std::vector<std::uint64_t> got;
  n.spawn([&](actor& self) -> task<void> {
    std::vector<request_awaiter<pong>> pending;
    for (std::uint64_t i = 1; i <= 1000; ++i) pending.push_back(self.request<pong>(d, ping{i}, 10s));
    for (std::size_t i = pending.size(); i-- > 0;) got.push_back((co_await std::move(pending[i]))->n);
    self.kill(d);
  });
  n.run();
  ASSERT_EQ(got.size(), 1000u);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], 2 * (1000 - i));
}

TEST(request, outstanding_requests_to_three_targets_in_any_order) {
  node n;
  actor_ref d1 = n.spawn(doubler), d2 = n.spawn(doubler), d3 = n.spawn(doubler);
  std::vector<std::uint64_t> got;
  n.spawn([&](actor& self) -> task<void> {
    auto a = self.request<pong>(d1, ping{1}, 2s);
    auto b = self.request<pong>(d2, ping{2}, 2s);
    auto c = self.request<pong>(d3, ping{3}, 2s);
    co_await self.yield();  // every reply is in before the first await
    got.push_back((co_await b)->n);
    got.push_back((co_await c)->n);
    got.push_back((co_await a)->n);
    self.kill(d1);
    self.kill(d2);
    self.kill(d3);
  });
  n.run();
  EXPECT_EQ(got, (std::vector<std::uint64_t>{4, 6, 2}));
}

TEST(request, an_abandoned_request_drops_its_reply_and_the_next_one_works) {
  node n;
  actor_ref d = n.spawn(doubler);
  std::size_t mailbox_after = 99;
  std::uint64_t second = 0;
  n.spawn([&](actor& self) -> task<void> {
    {
      auto forgotten = self.request<pong>(d, ping{5}, 2s);  // never awaited
    }
    (void)self.request<pong>(d, ping{6}, 2s);  // a forgotten co_await
    co_await self.sleep_for(5ms);               // both replies arrive meanwhile
    mailbox_after = self.mailbox_size();
    second = (co_await self.request<pong>(d, ping{7}, 2s))->n;
    self.kill(d);
  });
  n.run();
  EXPECT_EQ(mailbox_after, 0u);
  EXPECT_EQ(second, 14u);
}

TEST(request, outstanding_requests_survive_a_receive_in_between) {
  node n;
  actor_ref d = n.spawn(doubler);
  std::vector<std::uint64_t> got;
  n.spawn([&](actor& self) -> task<void> {
    auto a = self.request<pong>(d, ping{10}, 2s);
    self.send(self.ref(), text{"between"});
    auto t = co_await self.receive<text>();
    EXPECT_EQ(t->s, "between");
    auto b = self.request<pong>(d, ping{20}, 2s);
    got.push_back((co_await b)->n);
    got.push_back((co_await a)->n);
    self.kill(d);
  });
  n.run();
  EXPECT_EQ(got, (std::vector<std::uint64_t>{40, 20}));
}

TEST(request, with_an_unbounded_timeout_waits_for_the_reply) {
  node n;
  actor_ref slow = n.spawn([](actor& self) -> task<void> {
    auto m = co_await self.receive<ping>();
    co_await self.sleep_for(20ms);
    self.reply(m, pong{m->n + 1});
  });
  std::uint64_t got = 0;
  n.spawn([&](actor& self) -> task<void> {
    got = (co_await self.request<pong>(slow, ping{41}, duration::max()))->n;
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(got, 42u);
}
