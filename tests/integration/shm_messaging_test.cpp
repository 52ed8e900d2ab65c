// Messages between processes through shared memory: order, fan-in, large
// messages, backpressure.
#include "support.hpp"

#include <fstream>
#include <map>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

// Sends `count` numbered messages from sender id `me` to `to`, then `done`.
task<void> numbered_sender(actor& self, actor_ref to, std::uint32_t me, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    self.send(to, seq{me, i});
    co_await self.throttle();
  }
  self.send(to, done{});
}
TROUPE_ACTOR(numbered_sender);

// The same without throttling, and starting before the link to `to` is up:
// everything piles up in the router's queue and the link's outbox first.
task<void> burst_sender(actor& self, actor_ref to, std::uint64_t count) {
  self.send(to, self.ref());
  for (std::uint64_t i = 0; i < count; ++i) self.send(to, seq{0, i});
  self.send(to, done{});
  co_await self.sleep_for(std::chrono::seconds(30));
}
TROUPE_ACTOR(burst_sender);

// Answers each blob with one carrying the same bytes.
task<void> blob_echo(actor& self) {
  for (;;) {
    auto m = co_await self.receive<blob>();
    blob back;
    back.bytes = std::move(m->bytes);
    back.checksum = checksum(back.bytes);
    self.reply(m, std::move(back));
  }
}
TROUPE_ACTOR(blob_echo);

long peak_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Floods `to` with 4 KiB messages, throttled, then reports how much its
// peak memory grew.
task<void> flooder(actor& self, actor_ref to, std::uint64_t count) {
  long before = peak_rss_kib();
  blob b;
  b.bytes.assign(4096, 'x');
  for (std::uint64_t i = 0; i < count; ++i) {
    b.checksum = i;
    self.send(to, b);
    co_await self.throttle();
  }
  self.send(to, note{std::to_string(peak_rss_kib() - before)});
}
TROUPE_ACTOR(flooder);

}  // namespace

TEST_F(process_test, messages_from_one_sender_arrive_in_order_across_processes) {
  std::uint64_t received = 0, out_of_order = 0;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    co_await self.spawn(p, numbered_sender, self.ref(), std::uint32_t{1}, std::uint64_t{200000});
    std::uint64_t expect = 0;
    for (;;) {
      message m = co_await self.receive<seq, done>();
      if (m.is<done>()) break;
      if (m.get<seq>().n != expect) ++out_of_order;
      expect = m.get<seq>().n + 1;
      ++received;
    }
  });
  EXPECT_EQ(received, 200000u);
  EXPECT_EQ(out_of_order, 0u);
}

TEST_F(process_test, a_burst_sent_before_the_link_is_up_arrives_whole_and_in_order) {
  // The receiver also talks back (monitor), which opens a second link the
  // other way while the sender's queue drains.
  std::uint64_t received = 0, out_of_order = 0;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process(burst_sender, self.ref(), std::uint64_t{150000});
    auto who = co_await self.receive<actor_ref>();
    self.monitor(*who);
    std::uint64_t expect = 0;
    for (;;) {
      message m = co_await self.receive<seq, done>();
      if (m.is<done>()) break;
      if (m.get<seq>().n != expect) ++out_of_order;
      expect = m.get<seq>().n + 1;
      ++received;
    }
    p.kill();
  });
  EXPECT_EQ(received, 150000u);
  EXPECT_EQ(out_of_order, 0u);
}

TEST_F(process_test, many_senders_in_four_processes_lose_and_duplicate_nothing) {
  constexpr std::uint64_t per_sender = 50000;
  std::map<std::uint32_t, std::uint64_t> next;  // per sender: the next number expected
  std::uint64_t bad = 0, total = 0;
  run_program([&](actor& self) -> task<void> {
    std::vector<process> procs;
    for (int i = 0; i < 4; ++i) procs.push_back(co_await self.spawn_process());
    std::uint32_t id = 0;
    for (auto& p : procs)
      for (int k = 0; k < 2; ++k) co_await self.spawn(p, numbered_sender, self.ref(), id++, per_sender);
    int finished = 0;
    while (finished < 8) {
      message m = co_await self.receive<seq, done>();
      if (m.is<done>()) {
        ++finished;
        continue;
      }
      const seq& s = m.get<seq>();
      if (s.n != next[s.sender]) ++bad;
      next[s.sender] = s.n + 1;
      ++total;
    }
  });
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(total, 8 * per_sender);
  ASSERT_EQ(next.size(), 8u);
  for (auto& [sender, n] : next) EXPECT_EQ(n, per_sender) << "sender " << sender;
}

TEST_F(process_test, a_64_mib_message_crosses_the_ring_both_ways) {
  std::uint64_t sent_sum = 0, got_sum = 0, reported = 0;
  std::size_t got_size = 0;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref e = co_await self.spawn(p, blob_echo);
    blob b;
    b.bytes.resize(64u << 20);
    for (std::size_t i = 0; i < b.bytes.size(); ++i) b.bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
    sent_sum = checksum(b.bytes);
    auto r = co_await self.request<blob>(e, std::move(b), 60s);
    got_size = r->bytes.size();
    got_sum = checksum(r->bytes);
    reported = r->checksum;
  });
  EXPECT_EQ(got_size, 64u << 20);
  EXPECT_EQ(got_sum, sent_sum);
  EXPECT_EQ(reported, sent_sum);  // the other process saw the same bytes
}

TEST_F(process_test, a_slow_consumer_keeps_the_producers_memory_bounded) {
  constexpr std::uint64_t count = 100000;  // 400 MiB through the ring
  long growth_kib = -1;
  std::uint64_t consumed = 0;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    co_await self.spawn(p, flooder, self.ref(), count);
    for (;;) {
      message m = co_await self.receive<blob, note>();
      if (auto* n = m.get_if<note>()) {
        growth_kib = std::stol(n->text);
        break;
      }
      if (++consumed % 1000 == 0) co_await self.sleep_for(1ms);  // a slow consumer
    }
  });
  EXPECT_EQ(consumed, count);
  ASSERT_GE(growth_kib, 0);
  // 400 MiB went through; the producer held about a ring's worth.
  // (AddressSanitizer's quarantine of freed buffers accounts for tens of MiB.)
  EXPECT_LT(growth_kib, 128 * 1024) << "producer grew by " << growth_kib << " KiB";
}

namespace {
// Takes blobs slowly until it has `count`, then says so.
task<void> slow_sink(actor& self, actor_ref report, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    co_await self.receive<blob>();
    if (i % 64 == 0) co_await self.sleep_for(std::chrono::microseconds(200));
  }
  self.send(report, done{});
}
TROUPE_ACTOR(slow_sink);
}  // namespace

TEST_F(process_test, two_throttled_senders_to_one_slow_process_both_finish) {
  // Regression: a sender waiting for room was not woken when another
  // sender's frame drained the link.
  int finished = 0;
  bool sink_done = false;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    constexpr std::uint64_t per_sender = 3000;
    actor_ref sink = co_await self.spawn(p, slow_sink, self.ref(), 2 * per_sender);
    for (int s = 0; s < 2; ++s)
      self.spawn([&, sink](actor& a) -> task<void> {
        blob b;
        b.bytes.assign(16 * 1024, 'z');
        for (std::uint64_t i = 0; i < per_sender; ++i) {
          a.send(sink, b);
          co_await a.throttle();
        }
        ++finished;
      });
    sink_done = static_cast<bool>(co_await self.receive<done>(60s));
  });
  EXPECT_EQ(finished, 2);
  EXPECT_TRUE(sink_done);
}

TEST_F(process_test, a_request_to_a_gone_node_fails_and_the_program_goes_on) {
  // Regression: the failure inside the send made the node think it was
  // deadlocked (exit code 2) while the requester was still running.
  std::optional<request_errc> code;
  bool after = false;
  int exit_code = run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref e = co_await self.spawn(p, slow_sink, self.ref(), std::uint64_t{1});
    p.kill();
    co_await p.join(self);
    try {
      note n{"anyone?"};
      co_await self.request<note>(e, std::move(n), std::chrono::seconds(60));
    } catch (const request_error& err) {
      code = err.code();
    }
    co_await self.sleep_for(1ms);
    after = true;
  });
  EXPECT_EQ(exit_code, 0);
  EXPECT_EQ(code, request_errc::unreachable);
  EXPECT_TRUE(after);
}
