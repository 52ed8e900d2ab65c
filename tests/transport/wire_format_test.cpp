#include <troupe/transport/wire_format.hpp>

#include <gtest/gtest.h>

#include <array>

using namespace troupe;

TEST(wire_format, local_format_describes_this_build) {
  wire_format f = wire_format::local();
  EXPECT_EQ(f.byte_order, 1);  // x86-64 and arm64 Linux are little-endian
  EXPECT_EQ(f.word_size, sizeof(std::size_t));
  EXPECT_GT(f.archive_version, 0);
  EXPECT_FALSE(f.incompatibility(f).has_value());
}

TEST(wire_format, encode_decode_round_trip) {
  wire_format f = wire_format::local();
  std::array<std::byte, wire_format::encoded_size> buf{};
  f.encode(buf);
  EXPECT_EQ(wire_format::decode(buf), f);
}

TEST(wire_format, mismatches_are_explained) {
  wire_format local = wire_format::local();
  wire_format peer = local;
  peer.word_size = 4;
  auto why = local.incompatibility(peer);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("sizeof(size_t)"), std::string::npos) << *why;

  peer = local;
  peer.byte_order = 2;
  why = local.incompatibility(peer);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("byte order"), std::string::npos) << *why;

  peer = local;
  peer.archive_version = static_cast<std::uint16_t>(local.archive_version + 1);
  why = local.incompatibility(peer);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("Boost archive version"), std::string::npos) << *why;
}

TEST(wire_format, boost_version_alone_does_not_refuse_a_peer) {
  wire_format local = wire_format::local();
  wire_format peer = local;
  peer.boost_version += 100;  // same archive format, other Boost release
  EXPECT_FALSE(local.incompatibility(peer).has_value());
}
