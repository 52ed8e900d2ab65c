// The multiprocessing templates across real processes.
#include "support.hpp"

#include <troupe/actors.hpp>

#include <algorithm>
#include <numeric>
#include <set>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

// --- pipe -----------------------------------------------------------------------

task<void> pipe_echo(actor& self, pipe_end<std::string> end) {
  for (;;) {
    std::string s;
    try {
      s = co_await end.recv(self);
    } catch (const pipe_closed&) {
      end.close(self);
      co_return;
    }
    end.send(self, "echo " + s);
  }
}
TROUPE_ACTOR(pipe_echo);

task<void> pipe_writer(actor& self, pipe_end<int> end, int count, bool close_at_end) {
  for (int i = 0; i < count; ++i) end.send(self, i);
  if (close_at_end) end.close(self);
  co_await self.sleep_for(60s);  // stays alive unless killed
}
TROUPE_ACTOR(pipe_writer);

// --- queue ----------------------------------------------------------------------

task<void> queue_producer(actor& self, queue<std::uint64_t> q, std::uint64_t first, std::uint64_t count,
                          actor_ref report) {
  std::vector<std::uint64_t> items(count);
  std::iota(items.begin(), items.end(), first);
  co_await produce(self, q, items);
  self.send(report, done{});
}
TROUPE_ACTOR(queue_producer);

task<void> queue_consumer(actor& self, queue<std::uint64_t> q, actor_ref collector) {
  std::vector<std::uint64_t> got;
  co_await consume(self, q, [&](std::uint64_t& x) { got.push_back(x); });
  blob b;
  b.bytes.resize(got.size() * sizeof(std::uint64_t));
  std::memcpy(b.bytes.data(), got.data(), b.bytes.size());
  self.send(collector, std::move(b));
}
TROUPE_ACTOR(queue_consumer);

task<void> slow_worker(actor& self, joinable_queue<int> q, actor_ref log) {
  co_await consume(self, q, [&](actor& s, int& x) -> task<void> {
    co_await s.sleep_for(2ms);
    s.send(log, note{"done " + std::to_string(x)});
  });
}
TROUPE_ACTOR(slow_worker);

// --- pool -----------------------------------------------------------------------

long square(long x) { return x * x; }
TROUPE_TASK(square);

std::string shout(std::string s, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += s + "!";
  return out;
}
TROUPE_TASK(shout);

int fails_on_seven(int x) {
  if (x == 7) throw std::runtime_error("seven is not allowed");
  return x;
}
TROUPE_TASK(fails_on_seven);

long slow_square(long x) {
  std::this_thread::sleep_for(std::chrono::microseconds(200));
  return x * x;
}
TROUPE_TASK(slow_square);

int worker_pid(int) { return static_cast<int>(::getpid()); }
TROUPE_TASK(worker_pid);

// --- supervisor ------------------------------------------------------------------

task<void> fragile(actor& self, actor_ref report) {
  self.register_name("fragile");
  self.send(report, note{"started"});
  auto m = co_await self.receive<note>();
  if (m->text == "crash") throw std::runtime_error("crashed on purpose");
}
TROUPE_ACTOR(fragile);

}  // namespace

TEST_F(process_test, pipe_round_trip_and_eof_when_the_other_end_closes) {
  std::vector<std::string> got;
  bool eof = false;
  run_program([&](actor& self) -> task<void> {
    auto [mine, theirs] = make_pipe<std::string>(self);
    process p = co_await self.spawn_process();
    co_await self.spawn(p, pipe_echo, theirs);
    for (std::string s : {"a", "b", "c"}) {
      mine.send(self, s);
      got.push_back(co_await mine.recv(self));
    }
    EXPECT_FALSE(co_await mine.poll(self));
    mine.close(self);  // the echo sees end of stream, closes its end
    try {
      co_await mine.recv(self);
    } catch (const pipe_closed&) {
      eof = true;
    }
  });
  EXPECT_EQ(got, (std::vector<std::string>{"echo a", "echo b", "echo c"}));
  EXPECT_TRUE(eof);
}

TEST_F(process_test, pipe_reader_gets_everything_then_eof_when_the_writer_dies) {
  int received = 0;
  bool eof = false;
  run_program([&](actor& self) -> task<void> {
    auto [reader, writer] = make_pipe<int>(self, false);
    EXPECT_TRUE(reader.readable());
    EXPECT_FALSE(reader.writable());
    process p = co_await self.spawn_process();
    co_await self.spawn(p, pipe_writer, writer, 100, false);
    while (received < 100) {
      int x = co_await reader.recv(self);
      EXPECT_EQ(x, received);
      ++received;
    }
    p.kill();  // never closed its end: its death is the end of the stream
    try {
      co_await reader.recv(self);
    } catch (const pipe_closed&) {
      eof = true;
    }
  });
  EXPECT_EQ(received, 100);
  EXPECT_TRUE(eof);
}

TEST_F(process_test, queue_with_four_producers_and_four_consumers_delivers_each_item_once) {
  constexpr std::uint64_t per_producer = 2000;
  std::vector<std::uint64_t> all;
  run_program([&](actor& self) -> task<void> {
    auto q = make_queue<std::uint64_t>(self, 64);
    std::vector<process> procs;
    for (int i = 0; i < 4; ++i) procs.push_back(co_await self.spawn_process());
    for (int i = 0; i < 4; ++i) {
      co_await self.spawn(procs[i], queue_producer, q, i * per_producer, per_producer, self.ref());
      co_await self.spawn(procs[(i + 1) % 4], queue_consumer, q, self.ref());
    }
    for (int i = 0; i < 4; ++i) co_await self.receive<done>();  // every producer put everything
    q.close(self);  // consumers drain what is left, then see the end
    int reports = 0;
    while (reports < 4) {
      auto b = co_await self.receive<blob>();
      std::size_t n = b->bytes.size() / sizeof(std::uint64_t);
      auto* p = reinterpret_cast<const std::uint64_t*>(b->bytes.data());
      all.insert(all.end(), p, p + n);
      ++reports;
    }
  });
  ASSERT_EQ(all.size(), 4 * per_producer);
  std::sort(all.begin(), all.end());
  for (std::uint64_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i) << "lost or duplicated near " << i;
}

TEST_F(process_test, joinable_queue_join_returns_only_after_every_task_done) {
  std::size_t done_before_join = 0;
  run_program([&](actor& self) -> task<void> {
    auto q = make_joinable_queue<int>(self);
    for (int i = 0; i < 2; ++i) {
      process p = co_await self.spawn_process();
      co_await self.spawn(p, slow_worker, q, self.ref());
    }
    for (int i = 0; i < 40; ++i) co_await q.put(self, i);
    co_await q.join(self);
    // Every `done` note was sent before its task_done, from the same actor:
    // they are all here by now.
    done_before_join = self.mailbox_size();
    q.close(self);
  });
  EXPECT_EQ(done_before_join, 40u);
}

TEST_F(process_test, queue_timeouts_are_decided_by_the_queue) {
  bool full = false, empty = false, closed = false;
  run_program([&](actor& self) -> task<void> {
    auto q = make_queue<int>(self, 1);
    co_await q.put(self, 1);
    try {
      co_await q.put(self, 2, 10ms);
    } catch (const queue_full&) {
      full = true;
    }
    EXPECT_EQ(co_await q.get(self), 1);  // the refused 2 was not enqueued
    empty = !(co_await q.get(self, 10ms)).has_value();
    q.close(self);
    try {
      co_await q.put(self, 3);
    } catch (const queue_closed&) {
      closed = true;
    }
  });
  EXPECT_TRUE(full);
  EXPECT_TRUE(empty);
  EXPECT_TRUE(closed);
}

TEST_F(process_test, pool_results_equal_a_sequential_run) {
  std::vector<long> mapped, expect;
  long applied = 0;
  std::string star;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    std::vector<long> xs(1000);
    std::iota(xs.begin(), xs.end(), -500);
    for (long x : xs) expect.push_back(square(x));
    mapped = co_await p.map(self, square, xs, 37);
    applied = co_await p.apply(self, square, 12L);
    std::vector<std::tuple<std::string, int>> args{{"a", 2}, {"b", 1}};
    auto s = co_await p.starmap(self, shout, args);
    star = s[0] + s[1];
    std::vector<pool_future<long>> fs;
    for (long x = 0; x < 100; ++x) fs.push_back(p.apply_async(self, square, x));
    for (long x = 99; x >= 0; --x) EXPECT_EQ(co_await fs[x].get(self), x * x);
    std::multiset<long> unordered;
    auto stream = p.imap_unordered(self, square, xs, 10);
    while (auto r = co_await stream.next(self)) unordered.insert(*r);
    EXPECT_EQ(unordered, std::multiset<long>(expect.begin(), expect.end()));
    std::vector<long> ordered;
    auto in_order = p.imap(self, square, xs, 7);
    while (auto r = co_await in_order.next(self)) ordered.push_back(*r);
    EXPECT_EQ(ordered, expect);
    p.close(self);
    co_await p.join(self);
  });
  EXPECT_EQ(mapped, expect);
  EXPECT_EQ(applied, 144);
  EXPECT_EQ(star, "a!a!b!");
}

TEST_F(process_test, an_exception_in_a_task_comes_back_with_its_message) {
  std::string error;
  bool others_fine = false;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    std::vector<int> xs{1, 2, 7, 9};  // (g++ 12 cannot keep an initializer list across co_await)
    try {
      co_await p.map(self, fails_on_seven, xs);
    } catch (const pool_task_error& e) {
      error = e.what();
    }
    others_fine = co_await p.apply(self, fails_on_seven, 3) == 3;  // the pool goes on
    p.terminate(self);
  });
  EXPECT_NE(error.find("seven is not allowed"), std::string::npos) << error;
  EXPECT_TRUE(others_fine);
}

TEST_F(process_test, a_worker_killed_during_map_is_replaced_and_the_result_is_complete) {
  std::vector<long> got, expect;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2, .batch = 4});
    std::vector<long> xs(2000);
    std::iota(xs.begin(), xs.end(), 0);
    for (long x : xs) expect.push_back(x * x);
    // Kill one worker process while the map runs.
    self.spawn([&p](actor& killer) -> task<void> {
      co_await killer.sleep_for(30ms);
      int victim = co_await p.apply(killer, worker_pid, 0);
      ::kill(victim, SIGKILL);
    });
    got = co_await p.map(self, slow_square, xs, 5);
    p.close(self);
    co_await p.join(self);
  });
  EXPECT_EQ(got, expect);
}

TEST_F(process_test, maxtasksperchild_replaces_workers_and_loses_nothing) {
  std::set<int> pids;
  std::size_t results = 0;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2, .maxtasksperchild = 10, .batch = 2});
    std::vector<int> xs(100, 0);
    auto r = co_await p.map(self, worker_pid, xs, 1);
    results = r.size();
    pids.insert(r.begin(), r.end());
    p.close(self);
    co_await p.join(self);
  });
  EXPECT_EQ(results, 100u);
  EXPECT_GE(pids.size(), 10u);  // 100 tasks, at most 10 per process
}

TEST_F(process_test, supervisor_restarts_a_failing_child_in_another_process) {
  int starts = 0;
  std::optional<down> sup_down;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref me = self.ref();
    std::vector<child_spec> children;
    children.push_back(
        child_spec{"fragile", [p, me](actor& s) -> task<actor_ref> { co_return co_await s.spawn(p, fragile, me); }});
    actor_ref sup = self.spawn(supervisor, children, supervisor_options{.max_restarts = 2, .within = 60s});
    self.monitor(sup);
    for (int round = 0; round < 3; ++round) {
      co_await self.receive<note>();  // "started"
      ++starts;
      std::optional<actor_ref> f;
      for (int i = 0; i < 1000 && !f; ++i) {
        f = co_await self.lookup("fragile", 2s);
        if (!f) co_await self.sleep_for(1ms);
      }
      if (!f) co_return;
      self.send(*f, note{"crash"});
      // wait until the name is gone, so the next lookup finds the new child
      for (int i = 0; i < 1000 && (co_await self.lookup("fragile", 2s)) == f; ++i) co_await self.sleep_for(1ms);
    }
    auto d = co_await self.receive<down>(20s);
    if (d) sup_down = *d;
  });
  EXPECT_EQ(starts, 3);  // the first start and two restarts
  ASSERT_TRUE(sup_down);
  EXPECT_EQ(sup_down->reason, exit_reason::error);
  EXPECT_NE(sup_down->detail.find("crashed on purpose"), std::string::npos) << sup_down->detail;
}

namespace {
bool is_even(int x) { return x % 2 == 0; }
TROUPE_TASK(is_even);
}  // namespace

TEST_F(process_test, pool_futures_and_streams_work_for_bool_results_and_outlive_a_moved_pool) {
  std::vector<bool> got;
  bool future_value = false;
  run_program([&](actor& self) -> task<void> {
    pool first = co_await pool::start(self, {.processes = 1});
    auto f = first.apply_async(self, is_even, 4);
    pool p = std::move(first);  // the future does not point into the pool
    future_value = co_await f.get(self);
    std::vector<int> xs{1, 2, 3, 4};
    got = co_await p.map(self, is_even, xs);
    p.terminate(self);
  });
  EXPECT_TRUE(future_value);
  EXPECT_EQ(got, (std::vector<bool>{false, true, false, true}));
}

namespace {
int crash_worker(int) {
  ::raise(SIGKILL);
  return 0;
}
TROUPE_TASK(crash_worker);

task<void> blocked_getter(actor& self, queue<int> q, actor_ref report) {
  self.send(report, done{});
  int x = co_await q.get(self);  // killed while waiting here
  self.send(report, note{std::to_string(x)});
}
TROUPE_ACTOR(blocked_getter);
}  // namespace

TEST_F(process_test, pool_join_returns_after_a_task_kills_its_workers_past_its_retries) {
  std::string error;
  bool joined = false;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2, .retries = 1});
    auto f = p.apply_async(self, crash_worker, 1);
    p.close(self);
    try {
      co_await f.get(self);
    } catch (const pool_task_error& e) {
      error = e.what();
    }
    co_await p.join(self);
    joined = true;
  });
  EXPECT_NE(error.find("died"), std::string::npos) << error;
  EXPECT_TRUE(joined);
}

TEST_F(process_test, an_item_is_not_handed_to_a_getter_that_died) {
  std::optional<int> got;
  run_program([&](actor& self) -> task<void> {
    auto q = make_queue<int>(self);
    process p = co_await self.spawn_process();
    co_await self.spawn(p, blocked_getter, q, self.ref());
    co_await self.receive<done>();
    co_await self.sleep_for(20ms);  // its get is waiting in the queue
    p.kill();
    co_await p.join(self);
    co_await self.sleep_for(20ms);  // the queue hears of the death
    co_await q.put(self, 42);
    got = co_await q.get(self, 5s);  // still there
  });
  EXPECT_EQ(got, 42);
}

namespace {
constexpr int progress_step = 250;

// Reports to `watch` how many items it has sent, every progress_step items
// (a seq, as itest has it: n = items sent).
task<void> fast_pipe_writer(actor& self, pipe_end<std::string> out, int count, actor_ref watch) {
  std::string item(1024, 'p');
  for (int i = 0; i < count; ++i) {
    out.send(self, item);
    co_await self.throttle();
    if ((i + 1) % progress_step == 0) self.send(watch, seq{0, static_cast<std::uint64_t>(i + 1)});
  }
  out.close(self);
}
TROUPE_ACTOR(fast_pipe_writer);
}  // namespace

TEST_F(process_test, a_throttled_pipe_writer_is_paced_by_a_slow_reader) {
  // 20000 items of 1 KiB through a reader that takes them slowly: the
  // writer can be ahead by what the pipe's buffer holds, the buffer's
  // mailbox bound and, across processes, one window of credit.
  constexpr int count = 3 * static_cast<int>(detail::flow_window_messages + detail::pipe_capacity);
  int received = 0, reports = 0;
  std::int64_t max_lead = 0;
  run_program([&](actor& self) -> task<void> {
    auto [reader, writer] = make_pipe<std::string>(self, false);
    process p = co_await self.spawn_process(fast_pipe_writer, writer, count, self.ref());
    // A report of n sent reaches us after those n items reached the
    // buffer (one link, in order). We have read at least as much by then as
    // when the writer sent it, so the lead seen (n - received) never
    // overstates how far ahead it was; an unpaced writer's reports still
    // arrive thousands of items ahead of the reading.
    auto take_reports = [&]() -> task<void> {
      while (self.mailbox_size() > 0) {
        auto r = co_await self.receive<seq>(duration::zero());
        if (!r) break;
        ++reports;
        max_lead = std::max(max_lead, static_cast<std::int64_t>(r->n) - received);
      }
    };
    try {
      for (;;) {
        co_await reader.recv(self);
        co_await take_reports();
        // Slower than the link by far: a writer that were not paced would
        // run thousands of items ahead.
        if (++received % 100 == 0) co_await self.sleep_for(1ms);
      }
    } catch (const pipe_closed&) {
    }
    co_await p.join(self);
    co_await take_reports();
  });
  EXPECT_EQ(received, count);
  EXPECT_EQ(reports, count / progress_step);  // every report was seen, so every lead was checked
  EXPECT_LT(max_lead, static_cast<std::int64_t>(detail::pipe_capacity + detail::flow_window_messages + progress_step))
      << "the writer ran ahead of its reader";
}

TEST_F(process_test, waiting_tasks_fail_when_the_pool_coordinator_is_killed) {
  std::string error;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 1});
    auto f = p.apply_async(self, slow_square, 3L);
    self.kill(p.coordinator());
    try {
      co_await f.get(self);
    } catch (const pool_task_error& e) {
      error = e.what();
    }
  });
  EXPECT_NE(error.find("coordinator ended"), std::string::npos) << error;
}
