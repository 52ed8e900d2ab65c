// The shared-memory ring on plain memory: records, wrap-around, fullness,
// wake-up flags, and refusal of corrupt contents.
#include "../../transport/shm/src/ring.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

using namespace troupe::shm_detail;

namespace {

struct ring_memory {
  explicit ring_memory(std::size_t cap) : bytes(data_offset + cap) {
    init_ring(bytes.data(), cap, 1);
  }
  void* base() { return bytes.data(); }
  ring_control& ctl() { return *reinterpret_cast<ring_control*>(bytes.data()); }
  std::vector<std::byte> bytes;
};

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::byte((i * 31 + seed) & 0xff);
  return v;
}

}  // namespace

TEST(ring, records_survive_many_wrap_arounds_intact) {
  ring_memory mem(4096);
  ring_writer w(mem.base());
  ring_reader r(mem.base());
  ASSERT_TRUE(r.valid());
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; ++i) {
    auto a = pattern(rng() % w.max_record(), static_cast<unsigned>(i));
    ASSERT_TRUE(w.try_write(whole, a));
    w.publish();
    ring_reader::record rec;
    ASSERT_EQ(r.next(rec), ring_reader::status::ok);
    ASSERT_EQ(rec.kind, whole);
    ASSERT_EQ(rec.bytes.size(), a.size());
    ASSERT_TRUE(std::equal(a.begin(), a.end(), rec.bytes.begin()));
    r.consume();
    r.flush();
  }
  ring_reader::record rec;
  EXPECT_EQ(r.next(rec), ring_reader::status::empty);
}

TEST(ring, a_record_is_invisible_until_published) {
  ring_memory mem(4096);
  ring_writer w(mem.base());
  ring_reader r(mem.base());
  auto a = pattern(100, 3);
  ASSERT_TRUE(w.try_write(whole, a));
  ring_reader::record rec;
  EXPECT_EQ(r.next(rec), ring_reader::status::empty);  // a writer dying here leaves nothing half-visible
  w.publish();
  EXPECT_EQ(r.next(rec), ring_reader::status::ok);
}

TEST(ring, a_full_ring_refuses_until_the_reader_frees_room) {
  ring_memory mem(4096);
  ring_writer w(mem.base());
  ring_reader r(mem.base());
  auto a = pattern(1000, 5);
  int written = 0;
  while (w.try_write(whole, a)) ++written;
  w.publish();
  EXPECT_EQ(written, 4);  // 4 records of 1008 bytes in 4096
  EXPECT_FALSE(w.wait_for_room(1008));
  EXPECT_EQ(mem.ctl().producer_waiting.load(), 1u);
  ring_reader::record rec;
  ASSERT_EQ(r.next(rec), ring_reader::status::ok);
  r.consume();
  EXPECT_TRUE(r.flush());  // the waiting producer must be woken
  EXPECT_EQ(mem.ctl().producer_waiting.load(), 0u);
  EXPECT_TRUE(w.try_write(whole, a));
}

TEST(ring, publish_asks_for_a_wake_up_only_when_the_reader_sleeps) {
  ring_memory mem(4096);
  ring_writer w(mem.base());
  ring_reader r(mem.base());
  auto a = pattern(10, 1);
  ASSERT_TRUE(w.try_write(whole, a));
  EXPECT_FALSE(w.publish());
  ring_reader::record rec;
  ASSERT_EQ(r.next(rec), ring_reader::status::ok);
  r.consume();
  r.flush();
  EXPECT_FALSE(r.prepare_sleep());  // nothing new: it may sleep
  ASSERT_TRUE(w.try_write(whole, a));
  EXPECT_TRUE(w.publish());   // sleeping reader: wake it
  ASSERT_TRUE(w.try_write(whole, a));
  EXPECT_FALSE(w.publish());  // woken once is enough
}

TEST(ring, the_reader_refuses_corrupt_contents) {
  auto corrupt_after = [](auto damage) {
    ring_memory mem(4096);
    ring_writer w(mem.base());
    auto a = pattern(64, 9);
    w.try_write(whole, a);
    w.publish();
    damage(mem);
    ring_reader r(mem.base());
    ring_reader::record rec;
    return r.next(rec);
  };
  auto* hdr = +[](ring_memory& m) { return reinterpret_cast<record_header*>(m.bytes.data() + data_offset); };
  EXPECT_EQ(corrupt_after([&](ring_memory& m) { hdr(m)->length = 5000; }), ring_reader::status::corrupt);
  EXPECT_EQ(corrupt_after([&](ring_memory& m) { hdr(m)->kind = 99; }), ring_reader::status::corrupt);
  EXPECT_EQ(corrupt_after([&](ring_memory& m) { hdr(m)->kind = wrap; }), ring_reader::status::corrupt);
  EXPECT_EQ(corrupt_after([](ring_memory& m) { m.ctl().head.store(1u << 20); }), ring_reader::status::corrupt);
  EXPECT_EQ(corrupt_after([](ring_memory& m) { m.ctl().head.store(3); }), ring_reader::status::corrupt);
}

TEST(ring, compact_records_are_accepted_and_unknown_kinds_refused) {
  ring_memory mem(4096);
  ring_writer w(mem.base());
  ring_reader r(mem.base());
  auto a = pattern(40 + 64, 2);
  ASSERT_TRUE(w.try_write(compact, a));
  w.publish();
  ring_reader::record rec;
  ASSERT_EQ(r.next(rec), ring_reader::status::ok);
  EXPECT_EQ(rec.kind, compact);
  EXPECT_EQ(rec.bytes.size(), a.size());
  r.consume();
  r.flush();
  ASSERT_TRUE(w.try_write(static_cast<record_kind>(7), a));
  w.publish();
  EXPECT_EQ(r.next(rec), ring_reader::status::corrupt);
}
