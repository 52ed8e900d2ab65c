// Faults: processes killed by SIGKILL while frames are in flight.
#include "support.hpp"

#include <algorithm>
#include <fcntl.h>
#include <random>
#include <sys/mman.h>
#include <sys/wait.h>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

// Streams checksummed blobs larger than a ring (so every one is chunked)
// until killed.
task<void> blob_stream(actor& self, actor_ref to, std::uint32_t bytes) {
  std::mt19937 rng(::getpid());
  for (;;) {
    blob b;
    b.bytes.resize(bytes);
    for (auto& c : b.bytes) c = static_cast<char>(rng());
    b.checksum = checksum(b.bytes);
    self.send(to, std::move(b));
    co_await self.throttle();
  }
}
TROUPE_ACTOR(blob_stream);

// Takes nothing: its mailbox and ring fill up.
task<void> deaf(actor& self) {
  for (;;) co_await self.receive<done>();
}
TROUPE_ACTOR(deaf);

}  // namespace

TEST_F(process_test, a_writer_killed_mid_frame_never_yields_a_torn_message) {
  std::mt19937 rng(42);
  int rounds_with_down = 0, corrupt = 0, received = 0;
  run_program([&](actor& self) -> task<void> {
    for (int round = 0; round < 5; ++round) {
      process p = co_await self.spawn_process();
      actor_ref w = co_await self.spawn(p, blob_stream, self.ref(), std::uint32_t{3u << 20});
      self.monitor(w);
      int want = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < want; ++i) {
        auto m = co_await self.receive<blob>(20s);
        if (!m) break;
        ++received;
        if (checksum(m->bytes) != m->checksum) ++corrupt;
      }
      // Kill it at some point while it writes the next frames.
      co_await self.sleep_for(std::chrono::microseconds(rng() % 3000));
      p.kill();
      for (;;) {
        message m = co_await self.receive<blob, down>();  // no timeout: a hang fails the test by its deadline
        if (auto* b = m.get_if<blob>()) {
          ++received;
          if (checksum(b->bytes) != b->checksum) ++corrupt;
          continue;
        }
        EXPECT_NE(m.get<down>().detail.find("signal 9"), std::string::npos) << m.get<down>().detail;
        ++rounds_with_down;
        break;
      }
      co_await p.join(self);
    }
  });
  EXPECT_EQ(rounds_with_down, 5);
  EXPECT_EQ(corrupt, 0);
  EXPECT_GE(received, 5);
}

TEST_F(process_test, a_reader_killed_while_the_writer_waits_for_room_frees_the_writer) {
  // What may be on its way to a receiver that takes nothing: one window of
  // credit (16 MiB) and a ring (1 MiB) of 64 KiB blobs, and the send that
  // found the bound. An unpaced writer is past it within milliseconds.
  constexpr std::uint64_t bound =
      (static_cast<std::uint64_t>(detail::flow_window_bytes) + (std::uint64_t{1} << 20)) / (64 * 1024) + 2;
  std::uint64_t sent = 0, sent_at_kill = 0;
  bool waiting = false, stalled = false, finished = false;
  std::optional<down> d;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref sink = co_await self.spawn(p, deaf);
    self.monitor(sink);
    // The writer fills what the reader's side holds and waits; another
    // actor kills the reader once it has seen the writer sit in throttle()
    // without sending anything for 20 ms. (It runs at all only because
    // the writer suspends: an unpaced loop would never let it.)
    self.spawn([p, &sent, &sent_at_kill, &waiting, &stalled](actor& killer) -> task<void> {
      std::uint64_t seen = 0;
      int quiet = 0;
      for (int i = 0; i < 500 && quiet < 2 && sent <= bound; ++i) {
        co_await killer.sleep_for(10ms);
        quiet = waiting && sent == seen ? quiet + 1 : 0;
        seen = sent;
      }
      stalled = quiet >= 2;
      sent_at_kill = sent;
      p.kill();
    });
    blob b;
    b.bytes.assign(64 * 1024, 'y');
    while (!finished) {
      self.send(sink, b);
      ++sent;
      waiting = true;
      co_await self.throttle();
      waiting = false;
      if (self.mailbox_size() > 0) finished = true;  // the `down` arrived
    }
    auto m = co_await self.receive<down>(20s);
    if (m) d = *m;
  });
  EXPECT_TRUE(finished);
  // The writer did wait: it was suspended by backpressure, not merely
  // slow, and got no further than the bound while the reader took nothing.
  EXPECT_TRUE(stalled) << "the writer never sat still in throttle(): " << sent_at_kill << " blobs sent by the kill";
  EXPECT_LE(sent_at_kill, bound) << "the writer ran past what the reader's side may hold";
  ASSERT_TRUE(d);
  EXPECT_NE(d->detail.find("signal 9"), std::string::npos) << d->detail;
}

TEST_F(process_test, segments_of_dead_processes_are_removed_when_a_node_starts) {
  // A process that is surely dead: one that has exited and been reaped.
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  std::string name = "troupe-00000000deadbeef-" + std::to_string(dead) + "-1";
  int fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  clusters.push_back(0xdeadbeef);
  ASSERT_FALSE(troupe_segments(true).empty());
  // And one of a live process (ours), which must stay.
  std::string live = "troupe-00000000deadbeef-" + std::to_string(::getpid()) + "-1";
  fd = ::shm_open(("/" + live).c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  run_program([](actor&) -> task<void> { co_return; });  // a node starts: its shm transport cleans up
  auto left = troupe_segments(true);
  EXPECT_EQ(std::count(left.begin(), left.end(), name), 0);
  EXPECT_EQ(std::count(left.begin(), left.end(), live), 1);
  ::shm_unlink(("/" + live).c_str());
  clusters.clear();
}
