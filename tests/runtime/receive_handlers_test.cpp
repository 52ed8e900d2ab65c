// The handler form of receive: one call, a handler per type.
#include "test_messages.hpp"

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;
using namespace std::chrono_literals;

namespace {

// Answers pings with pongs, collects texts, ends on stop.
task<void> server(actor& self, std::vector<std::string>& log) {
  bool running = true;
  while (running) {
    co_await self.receive([&](received<ping>& p) { self.reply(p, pong{p->n + 1}); },
                          [&](const text& t) { log.push_back(t.s); },
                          [&](stop) { running = false; });
  }
}

}  // namespace

TEST(receive_handlers, each_message_goes_to_the_handler_of_its_type) {
  node n;
  std::vector<std::string> log;
  std::vector<std::uint64_t> answers;
  actor_ref s = n.spawn(server, std::ref(log));
  n.spawn([&](actor& self) -> task<void> {
    self.send(s, text{"a"});
    for (std::uint64_t i = 0; i < 3; ++i) {
      auto r = co_await self.request<pong>(s, ping{i * 10}, 5s);
      answers.push_back(r->n);
    }
    self.send(s, text{"b"});
    self.send(s, stop{});
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(answers, (std::vector<std::uint64_t>{1, 11, 21}));
}

TEST(receive_handlers, other_types_stay_in_the_mailbox_in_order) {
  node n;
  std::vector<std::string> log;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    co_await self.receive([&](const pong& p) { log.push_back("pong " + std::to_string(p.n)); });
    EXPECT_EQ(self.mailbox_size(), 2u);
    for (int i = 0; i < 2; ++i)
      co_await self.receive([&](ping& p) { log.push_back("ping " + std::to_string(p.n)); },
                            [&](text t) { log.push_back("text " + t.s); });
  });
  n.spawn([r](actor& self) -> task<void> {
    self.send(r, ping{1});
    self.send(r, text{"t"});
    self.send(r, pong{2});
    co_return;
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(log, (std::vector<std::string>{"pong 2", "ping 1", "text t"}));
}

TEST(receive_handlers, a_timed_receive_says_whether_a_handler_ran) {
  node n;
  std::vector<bool> results;
  std::uint64_t seen = 0;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    results.push_back(co_await self.receive(10ms, [&](const ping& p) { seen = p.n; }));
    results.push_back(co_await self.receive(duration::max(), [&](const ping& p) { seen = p.n; }));
  });
  n.spawn([r](actor& self) -> task<void> {
    co_await self.sleep_for(50ms);
    self.send(r, ping{7});
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(results, (std::vector<bool>{false, true}));
  EXPECT_EQ(seen, 7u);
}

TEST(receive_handlers, a_handler_may_move_the_message_out) {
  node n;
  std::string got;
  actor_ref r = n.spawn([&](actor& self) -> task<void> {
    co_await self.receive([&](text& t) { got = std::move(t.s); });
  });
  n.send(r, text{std::string(100, 'x')});
  EXPECT_TRUE(n.run());
  EXPECT_EQ(got, std::string(100, 'x'));
}
