// Spawning, sending and receiving inside one node, on the real event loop.
#include "test_messages.hpp"

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;

namespace {

task<void> echo(actor& self) {
  for (;;) {
    message m = co_await self.receive();
    if (m.is<stop>()) co_return;
    if (auto* p = m.get_if<ping>()) self.send(m.sender(), pong{p->n});
  }
}

task<void> collect(actor& self, int count, std::vector<std::uint64_t>& out) {
  for (int i = 0; i < count; ++i) {
    auto m = co_await self.receive<ping>();
    out.push_back(m->n);
  }
}

}  // namespace

TEST(actor, messages_from_one_sender_arrive_in_order) {
  node n;
  std::vector<std::uint64_t> got;
  actor_ref c = n.spawn(collect, 1000, std::ref(got));
  n.spawn([c](actor& self) -> task<void> {
    for (std::uint64_t i = 0; i < 1000; ++i) self.send(c, ping{i});
    co_return;
  });
  EXPECT_TRUE(n.run());
  ASSERT_EQ(got.size(), 1000u);
  for (std::uint64_t i = 0; i < 1000; ++i) EXPECT_EQ(got[i], i);
  EXPECT_EQ(n.actor_count(), 0u);
}

TEST(actor, ping_pong_round_trips) {
  node n;
  actor_ref e = n.spawn(echo);
  std::uint64_t last = 0;
  n.spawn([&](actor& self) -> task<void> {
    for (std::uint64_t i = 1; i <= 100; ++i) {
      self.send(e, ping{i});
      auto r = co_await self.receive<pong>();
      EXPECT_EQ(r.sender(), e);
      last = r->n;
    }
    self.send(e, stop{});
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(last, 100u);
}

TEST(actor, selective_receive_keeps_skipped_messages_in_order) {
  node n;
  std::vector<std::string> log;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    auto p = co_await self.receive<pong>();  // pong arrives last but is taken first
    log.push_back("pong " + std::to_string(p->n));
    for (int i = 0; i < 3; ++i) {
      message m = co_await self.receive();
      if (auto* x = m.get_if<ping>()) log.push_back("ping " + std::to_string(x->n));
      if (auto* t = m.get_if<text>()) log.push_back("text " + t->s);
    }
  });
  n.spawn([r](actor& self) -> task<void> {
    self.send(r, ping{1});
    self.send(r, text{"a"});
    self.send(r, ping{2});
    self.send(r, pong{9});
    co_return;
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(log, (std::vector<std::string>{"pong 9", "ping 1", "text a", "ping 2"}));
}

TEST(actor, receive_of_several_types_takes_the_first_of_them) {
  node n;
  std::vector<std::string> order;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    message m = co_await self.receive<pong, text>();
    order.push_back(std::string(m.type_name()));
    m = co_await self.receive<pong, text>();
    order.push_back(std::string(m.type_name()));
    EXPECT_EQ(self.mailbox_size(), 1u);  // the ping is still there
  });
  n.spawn([r](actor& self) -> task<void> {
    self.send(r, ping{1});
    self.send(r, text{"t"});
    self.send(r, pong{2});
    co_return;
  });
  n.run();
  EXPECT_EQ(order, (std::vector<std::string>{"test_msgs::text", "test_msgs::pong"}));
}

TEST(actor, local_send_moves_without_copying) {
  node n;
  const int* seen = nullptr;
  const int* sent = nullptr;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    auto m = co_await self.receive<nested>();
    seen = m->points.empty() ? nullptr : &m->points.front().x;
  });
  n.spawn([&](actor& self) -> task<void> {
    nested x;
    x.points.push_back({1, 2});
    sent = &x.points.front().x;
    self.send(r, std::move(x));
    co_return;
  });
  n.run();
  EXPECT_EQ(seen, sent);  // same heap buffer: the vector was moved, not serialized or copied
}

TEST(actor, spawn_passes_arguments_and_keeps_them_alive) {
  node n;
  std::string result;
  n.spawn(
      [&](actor& self, const std::string& prefix, int times) -> task<void> {
        co_await self.yield();  // arguments must outlive the first suspension
        for (int i = 0; i < times; ++i) result += prefix;
      },
      std::string("ab"), 3);
  n.run();
  EXPECT_EQ(result, "ababab");
}

TEST(actor, an_exception_ends_only_that_actor) {
  node n;
  bool other_finished = false;
  n.spawn([](actor&) -> task<void> {
    throw std::runtime_error("boom");
    co_return;
  });
  n.spawn([&](actor& self) -> task<void> {
    co_await self.yield();
    co_await self.yield();
    other_finished = true;
  });
  EXPECT_TRUE(n.run());
  EXPECT_TRUE(other_finished);
}

TEST(actor, send_to_a_dead_actor_is_a_dead_letter) {
  node n;
  actor_ref gone = n.spawn([](actor&) -> task<void> { co_return; });
  n.run();
  EXPECT_FALSE(n.alive(gone));
  n.spawn([gone](actor& self) -> task<void> {
    self.send(gone, ping{1});
    co_return;
  });
  n.run();
  EXPECT_EQ(n.dead_letters(), 1u);
}

TEST(actor, actor_ids_are_not_reused_for_new_actors) {
  node n;
  actor_ref first = n.spawn([](actor&) -> task<void> { co_return; });
  n.run();
  actor_ref second = n.spawn([](actor& self) -> task<void> { co_await self.receive<stop>(); });
  EXPECT_NE(first, second);
  EXPECT_FALSE(n.alive(first));
  EXPECT_TRUE(n.alive(second));
  n.send(first, stop{});  // the old address must not reach the new actor
  n.send(second, stop{});
  n.run();
  EXPECT_EQ(n.dead_letters(), 1u);
}

TEST(actor, names_register_and_unregister_with_the_actor) {
  node n;
  actor_ref a = n.spawn(spawn_options{.name = "server"}, [](actor& self) -> task<void> {
    co_await self.receive<stop>();
  });
  EXPECT_EQ(n.whereis("server"), a);
  EXPECT_THROW(n.spawn(spawn_options{.name = "server"}, [](actor&) -> task<void> { co_return; }),
               std::invalid_argument);
  std::optional<actor_ref> seen;
  n.spawn([&](actor& self) -> task<void> {
    seen = self.whereis("server");
    EXPECT_TRUE(self.register_name("client"));
    EXPECT_FALSE(self.register_name("server"));
    self.send(*seen, stop{});
    co_return;
  });
  n.run();
  EXPECT_EQ(seen, a);
  EXPECT_FALSE(n.whereis("server"));
  EXPECT_FALSE(n.whereis("client"));
}

TEST(actor, kill_ends_a_waiting_actor_and_frees_its_mailbox) {
  node n;
  actor_ref victim = n.spawn([](actor& self) -> task<void> {
    for (;;) co_await self.receive<stop>();
  });
  std::optional<down> d;
  n.spawn([&](actor& self) -> task<void> {
    self.monitor(victim);
    self.send(victim, text{"left in the mailbox"});
    self.kill(victim);
    auto m = co_await self.receive<down>();
    d = *m;
  });
  n.run();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->actor, victim);
  EXPECT_EQ(d->reason, exit_reason::killed);
}

TEST(actor, shutdown_interrupts_waiting_actors) {
  node n;
  int unwound = 0;
  for (int i = 0; i < 3; ++i)
    n.spawn([&](actor& self) -> task<void> {
      try {
        co_await self.receive<stop>();
      } catch (const actor_shutdown&) {
        ++unwound;
        throw;
      }
    });
  n.spawn([](actor& self) -> task<void> {
    co_await self.yield();
    self.node().shutdown();
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(unwound, 3);
}

TEST(actor, run_reports_a_deadlock) {
  node n;
  n.spawn([](actor& self) -> task<void> { co_await self.receive<stop>(); });
  EXPECT_FALSE(n.run());  // nothing can ever send it `stop`
  EXPECT_EQ(n.actor_count(), 1u);
}

TEST(actor, arguments_are_stored_as_the_bodys_parameter_types) {
  // The body takes const std::string&; a string literal is passed. The
  // actor must keep a std::string, not a pointer or a dead temporary.
  node n;
  std::string result;
  n.spawn(
      [&](actor& self, const std::string& prefix, int times) -> task<void> {
        co_await self.yield();
        co_await self.sleep_for(std::chrono::milliseconds(1));
        for (int i = 0; i < times; ++i) result += prefix;
      },
      "a literal that is longer than the short string buffer ", 2);
  n.run();
  EXPECT_EQ(result, "a literal that is longer than the short string buffer a literal that is longer than the short string buffer ");
}
