#include <troupe/transport/frame.hpp>

#include <gtest/gtest.h>

#include <array>
#include <vector>

using namespace troupe;

namespace {

std::vector<std::byte> make_frame(const frame_header& h, std::size_t payload_bytes) {
  std::vector<std::byte> v(frame_header::size + payload_bytes);
  encode_header(h, std::span<std::byte, frame_header::size>(v.data(), frame_header::size));
  for (std::size_t i = 0; i < payload_bytes; ++i) v[frame_header::size + i] = std::byte(i & 0xff);
  return v;
}

frame_header sample(std::uint32_t payload) {
  frame_header h;
  h.flags = frame_flags::request;
  h.payload_size = payload;
  h.type = 0x1122334455667788ull;
  h.dst_node = 1;
  h.dst_actor = 2;
  h.src_node = 3;
  h.src_actor = 4;
  h.correlation = 0xdeadbeefcafef00dull;
  return h;
}

frame_errc error_of(std::span<const std::byte> bytes, frame_limits limits = {}) {
  try {
    decode_frame(bytes, limits);
  } catch (const frame_error& e) {
    EXPECT_NE(std::string(e.what()), "");
    return e.code();
  }
  ADD_FAILURE() << "frame was accepted";
  return frame_errc::trailing;
}

}  // namespace

TEST(frame, round_trip_keeps_every_field) {
  auto bytes = make_frame(sample(10), 10);
  frame_view v = decode_frame(bytes);
  EXPECT_EQ(v.header.flags, frame_flags::request);
  EXPECT_EQ(v.header.payload_size, 10u);
  EXPECT_EQ(v.header.type, 0x1122334455667788ull);
  EXPECT_EQ(v.header.dst_node, 1u);
  EXPECT_EQ(v.header.dst_actor, 2u);
  EXPECT_EQ(v.header.src_node, 3u);
  EXPECT_EQ(v.header.src_actor, 4u);
  EXPECT_EQ(v.header.correlation, 0xdeadbeefcafef00dull);
  ASSERT_EQ(v.payload.size(), 10u);
  EXPECT_EQ(v.payload[9], std::byte(9));
}

TEST(frame, header_is_little_endian_on_the_wire) {
  auto bytes = make_frame(sample(0), 0);
  EXPECT_EQ(bytes[0], std::byte{0x54});  // 'T'
  EXPECT_EQ(bytes[16], std::byte{0x88});  // low byte of the type id first
  EXPECT_EQ(bytes[23], std::byte{0x11});
}

TEST(frame, refuses_truncated_header) {
  auto bytes = make_frame(sample(0), 0);
  EXPECT_EQ(error_of(std::span(bytes).first(frame_header::size - 1)), frame_errc::truncated);
  EXPECT_EQ(error_of({}), frame_errc::truncated);
}

TEST(frame, refuses_truncated_payload) {
  auto bytes = make_frame(sample(100), 100);
  EXPECT_EQ(error_of(std::span(bytes).first(bytes.size() - 1)), frame_errc::truncated);
}

TEST(frame, refuses_trailing_bytes) {
  auto bytes = make_frame(sample(4), 4);
  bytes.push_back(std::byte{0});
  EXPECT_EQ(error_of(bytes), frame_errc::trailing);
}

TEST(frame, refuses_oversized_payload_before_reading_it) {
  frame_limits limits{1024};
  auto bytes = make_frame(sample(0), 0);
  frame_header h = sample(0xffffffffu);  // a 4 GiB claim
  encode_header(h, std::span<std::byte, frame_header::size>(bytes.data(), frame_header::size));
  EXPECT_EQ(error_of(bytes, limits), frame_errc::oversized);
  try {
    decode_header(bytes, limits);
    FAIL();
  } catch (const frame_error& e) {
    EXPECT_EQ(e.code(), frame_errc::oversized);
    EXPECT_NE(std::string(e.what()).find("4294967295"), std::string::npos) << e.what();
  }
}

TEST(frame, refuses_garbled_magic_version_flags_and_reserved_bytes) {
  auto good = make_frame(sample(0), 0);
  auto bad = good;
  bad[1] = std::byte{0};
  EXPECT_EQ(error_of(bad), frame_errc::bad_magic);
  bad = good;
  bad[4] = std::byte{2};
  EXPECT_EQ(error_of(bad), frame_errc::bad_version);
  bad = good;
  bad[5] = std::byte{0x80};
  EXPECT_EQ(error_of(bad), frame_errc::bad_flags);
  bad = good;
  bad[13] = std::byte{1};
  EXPECT_EQ(error_of(bad), frame_errc::bad_reserved);
}

TEST(frame, every_single_byte_flip_in_magic_is_caught) {
  auto good = make_frame(sample(0), 0);
  for (int i = 0; i < 4; ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = good;
      bad[i] ^= std::byte(1 << bit);
      EXPECT_EQ(error_of(bad), frame_errc::bad_magic);
    }
}
