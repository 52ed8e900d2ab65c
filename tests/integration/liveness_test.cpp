// Busy actors do not look dead: a node whose actor computes without
// awaiting keeps its TCP links (heartbeats come from a thread of their
// own), while a frozen peer is still found out by its silence.
#include "support.hpp"

#include <troupe/actors.hpp>

#include <signal.h>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

// Computes for `ms` milliseconds without awaiting (20 heartbeat periods of
// the tests), then answers.
void compute_for(std::chrono::milliseconds ms) {
  auto end = std::chrono::steady_clock::now() + ms;
  volatile std::uint64_t x = 0;
  while (std::chrono::steady_clock::now() < end) x = x + 1;
}

task<void> busy_echo(actor& self) {
  for (;;) {
    auto m = co_await self.receive<note>();
    compute_for(std::chrono::milliseconds(std::stoi(m->text)));
    self.reply(m, note{"done " + m->text});
  }
}
TROUPE_ACTOR(busy_echo);

task<void> plain_echo(actor& self) {
  for (;;) {
    auto m = co_await self.receive<note>();
    self.reply(m, note{"echo " + m->text});
  }
}
TROUPE_ACTOR(plain_echo);

task<void> blob_size(actor& self) {
  for (;;) {
    auto m = co_await self.receive<blob>();
    self.reply(m, note{std::to_string(m->bytes.size())});
  }
}
TROUPE_ACTOR(blob_size);

long compute_then_square(long x) {
  compute_for(std::chrono::milliseconds(1500));
  return x * x;
}
TROUPE_TASK(compute_then_square);

long sleep_long(long x) {
  std::this_thread::sleep_for(std::chrono::seconds(60));
  return x;
}
TROUPE_TASK(sleep_long);

}  // namespace

TEST_F(process_test, a_remote_actor_computing_for_a_long_time_keeps_its_tcp_link) {
  tcp_env env;  // heartbeat every 100 ms: a silence of 300 ms is death
  std::string reply;
  bool down_seen = true;
  run_program([&](actor& self) -> task<void> {
    env_list e;
    process p = co_await self.spawn_process(tcp_child(e));
    actor_ref b = co_await self.spawn(p, busy_echo);
    self.monitor(b);
    note work{"2000"};  // (a braced temporary inside co_await is freed twice by g++ 12)
    try {
      auto r = co_await self.request<note>(b, std::move(work), 60s);
      reply = r->text;
    } catch (const request_error& x) {
      reply = x.what();
    }
    down_seen = static_cast<bool>(co_await self.receive<down>(duration::zero()));
    p.terminate();
    co_await p.join(self);
  });
  EXPECT_EQ(reply, "done 2000");
  EXPECT_FALSE(down_seen);
}

TEST_F(process_test, a_root_computing_for_a_long_time_keeps_its_tcp_links) {
  tcp_env env;
  std::string before, after;
  bool down_seen = true;
  run_program([&](actor& self) -> task<void> {
    env_list e;
    process p = co_await self.spawn_process(tcp_child(e));
    actor_ref echo = co_await self.spawn(p, plain_echo);
    self.monitor(echo);
    auto first = self.request<note>(echo, note{"one"}, 60s);
    compute_for(2000ms);  // the child hears nothing from this loop meanwhile
    try {
      auto r = co_await first;
      before = r->text;
    } catch (const request_error& x) {
      before = x.what();
    }
    note two{"two"};
    try {
      auto r = co_await self.request<note>(echo, std::move(two), 60s);
      after = r->text;
    } catch (const request_error& x) {
      after = x.what();
    }
    down_seen = static_cast<bool>(co_await self.receive<down>(duration::zero()));
    p.terminate();
    co_await p.join(self);
  });
  EXPECT_EQ(before, "echo one");
  EXPECT_EQ(after, "echo two");
  EXPECT_FALSE(down_seen);
}

TEST_F(process_test, a_large_message_sent_before_a_long_computation_arrives_and_the_link_lives) {
  tcp_env env;
  std::string got;
  bool down_seen = true;
  run_program([&](actor& self) -> task<void> {
    env_list e;
    process p = co_await self.spawn_process(tcp_child(e));
    actor_ref sizer = co_await self.spawn(p, blob_size);
    self.monitor(sizer);
    blob b;
    b.bytes.assign(std::size_t{48} << 20, 'x');  // more than a socket takes at once
    auto answer = self.request<note>(sizer, std::move(b), 60s);
    compute_for(2000ms);  // the rest of the frame must go out meanwhile
    try {
      auto r = co_await answer;
      got = r->text;
    } catch (const request_error& x) {
      got = x.what();
    }
    down_seen = static_cast<bool>(co_await self.receive<down>(duration::zero()));
    p.terminate();
    co_await p.join(self);
  });
  EXPECT_EQ(got, std::to_string(std::size_t{48} << 20));
  EXPECT_FALSE(down_seen);
}

TEST_F(process_test, a_frozen_tcp_peer_is_declared_down_by_its_silence) {
  tcp_env env;
  std::optional<down> d;
  run_program([&](actor& self) -> task<void> {
    env_list e;
    process p = co_await self.spawn_process(tcp_child(e));
    actor_ref echo = co_await self.spawn(p, plain_echo);
    self.monitor(echo);
    ::kill(p.pid(), SIGSTOP);  // its heartbeat thread stops too
    if (auto m = co_await self.receive<down>(30s)) d = *m;
    ::kill(p.pid(), SIGCONT);
    p.kill();
    co_await p.join(self);
  });
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, exit_reason::unreachable);
  EXPECT_NE(d->detail.find("heartbeat"), std::string::npos) << d->detail;
}

TEST_F(process_test, a_pool_worker_on_a_tcp_node_computes_for_a_long_time_and_answers) {
  tcp_env env;
  std::vector<long> got;
  run_program([&](actor& self) -> task<void> {
    env_list e;
    process p = co_await self.spawn_process(tcp_child(e));
    std::vector<node_ref> nodes{p.node()};
    pool_options workers_opts{.processes = 0, .retries = 0, .nodes = nodes};
    pool workers = co_await pool::start(self, std::move(workers_opts));
    auto a = workers.apply_async(self, compute_then_square, 3L);
    auto b = workers.apply_async(self, compute_then_square, 4L);
    got.push_back(co_await a.get(self));
    got.push_back(co_await b.get(self));
    workers.close(self);
    co_await workers.join(self);
    p.terminate();
    co_await p.join(self);
  });
  EXPECT_EQ(got, (std::vector<long>{9, 16}));
}

TEST_F(process_test, a_pool_that_loses_its_last_worker_fails_its_tasks_at_once) {
  tcp_env env;
  std::string error;
  run_program([&](actor& self) -> task<void> {
    env_list e;
    process p = co_await self.spawn_process(tcp_child(e));
    std::vector<node_ref> nodes{p.node()};
    pool_options workers_opts{.processes = 0, .retries = 0, .nodes = nodes};
    pool workers = co_await pool::start(self, std::move(workers_opts));
    auto a = workers.apply_async(self, sleep_long, 1L);
    auto b = workers.apply_async(self, sleep_long, 2L);
    co_await self.sleep_for(200ms);  // a is running there
    p.kill();
    for (auto* f : {&a, &b}) {
      try {
        co_await f->get(self);
      } catch (const pool_task_error& x) {
        error = x.what();
      }
    }
    co_await p.join(self);
  });
  EXPECT_FALSE(error.empty());
}

// --- run_blocking -----------------------------------------------------------------

TEST(run_blocking, runs_off_the_loop_while_other_actors_go_on) {
  node n;
  std::atomic<bool> go{false};
  std::uint64_t result = 0;
  n.spawn([&](actor& self) -> task<void> {
    // Waits for another actor of this node: only possible off the loop.
    result = co_await self.run_blocking([&go] {
      auto give_up = std::chrono::steady_clock::now() + 20s;
      while (!go && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
      return go ? std::uint64_t{42} : std::uint64_t{0};
    });
  });
  n.spawn([&](actor& self) -> task<void> {
    co_await self.sleep_for(1ms);
    go = true;
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(result, 42u);
}

TEST(run_blocking, an_exception_reaches_the_awaiting_actor) {
  node n;
  std::string what;
  n.spawn([&](actor& self) -> task<void> {
    try {
      co_await self.run_blocking([] { throw std::runtime_error("disk on fire"); });
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(what, "disk on fire");
}

TEST(run_blocking, many_jobs_in_flight_from_many_actors) {
  node n;
  std::uint64_t sum = 0;
  for (int i = 1; i <= 20; ++i)
    n.spawn([&sum, i](actor& self) -> task<void> {
      int v = co_await self.run_blocking([i] {
        std::this_thread::sleep_for(std::chrono::milliseconds(i % 5));
        return i * i;
      });
      sum += static_cast<std::uint64_t>(v);
    });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(sum, 2870u);  // 1² + ... + 20²
}

TEST(run_blocking, a_killed_actor_waits_for_its_job_before_its_frame_goes) {
  node n;
  std::atomic<bool> finished{false};
  actor_ref worker = n.spawn([&](actor& self) -> task<void> {
    std::vector<int> local(1000, 7);  // the job reads the actor's frame
    co_await self.run_blocking([&local, &finished] {
      std::this_thread::sleep_for(50ms);
      std::uint64_t s = 0;
      for (int x : local) s += static_cast<std::uint64_t>(x);
      finished = s == 7000;
    });
  });
  n.spawn([&](actor& self) -> task<void> {
    co_await self.sleep_for(5ms);
    self.kill(worker);
  });
  EXPECT_TRUE(n.run());
  EXPECT_TRUE(finished);
}
