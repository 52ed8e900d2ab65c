// Requests to actors in other processes: any number outstanding, awaited in
// any order, each reply reaching its own await.
#include "support.hpp"

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

struct twice {
  std::uint64_t n = 0;
};

}  // namespace

TROUPE_MESSAGE(twice);

namespace {

task<void> remote_doubler(actor& self) {
  for (;;) {
    auto m = co_await self.receive<seq>();
    self.reply(m, twice{2 * m->n});
  }
}
TROUPE_ACTOR(remote_doubler);

}  // namespace


TEST_F(process_test, a_thousand_outstanding_remote_requests_awaited_in_reverse_order) {
  std::vector<std::uint64_t> got;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref d = co_await self.spawn(p, remote_doubler);
    std::vector<request_awaiter<twice>> pending;
    for (std::uint64_t i = 1; i <= 1000; ++i) pending.push_back(self.request<twice>(d, seq{0, i}, 20s));
    for (std::size_t i = pending.size(); i-- > 0;) got.push_back((co_await std::move(pending[i]))->n);
    p.terminate();
    co_await p.join(self);
  });
  ASSERT_EQ(got.size(), 1000u);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], 2 * (1000 - i)) << "at " << i;
}

TEST_F(process_test, outstanding_requests_to_three_processes_awaited_in_turn) {
  std::vector<std::uint64_t> got;
  run_program([&](actor& self) -> task<void> {
    std::vector<process> procs;
    std::vector<actor_ref> targets;
    for (int i = 0; i < 3; ++i) {
      procs.push_back(co_await self.spawn_process());
      targets.push_back(co_await self.spawn(procs.back(), remote_doubler));
    }
    auto a = self.request<twice>(targets[0], seq{0, 1}, 20s);
    auto b = self.request<twice>(targets[1], seq{0, 2}, 20s);
    auto c = self.request<twice>(targets[2], seq{0, 3}, 20s);
    co_await self.sleep_for(50ms);  // the replies are usually in before the awaits
    got.push_back((co_await a)->n);
    got.push_back((co_await b)->n);
    got.push_back((co_await c)->n);
    for (auto& p : procs) {
      p.terminate();
      co_await p.join(self);
    }
  });
  EXPECT_EQ(got, (std::vector<std::uint64_t>{2, 4, 6}));
}
