// detail/byte_order.hpp: wire integers are little-endian on any host.
#include <troupe/transport/detail/byte_order.hpp>

#include <array>
#include <gtest/gtest.h>

using troupe::detail::load_le;
using troupe::detail::store_le;

TEST(byte_order, stores_the_least_significant_byte_first) {
  std::array<std::byte, 8> b{};
  store_le<std::uint64_t>(b.data(), 0x0102030405060708ull);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(std::to_integer<int>(b[i]), 8 - i) << "byte " << i;
  store_le<std::uint16_t>(b.data(), 0xa1b2);
  EXPECT_EQ(std::to_integer<int>(b[0]), 0xb2);
  EXPECT_EQ(std::to_integer<int>(b[1]), 0xa1);
  EXPECT_EQ(std::to_integer<int>(b[2]), 6);  // nothing past the field is touched
}

TEST(byte_order, loads_what_it_stores_at_any_offset) {
  std::array<std::byte, 16> b{};
  store_le<std::uint32_t>(b.data() + 3, 0xdeadbeefu);  // unaligned
  EXPECT_EQ(load_le<std::uint32_t>(b.data() + 3), 0xdeadbeefu);
  store_le<std::uint64_t>(b.data() + 5, ~0ull);
  EXPECT_EQ(load_le<std::uint64_t>(b.data() + 5), ~0ull);
  EXPECT_EQ(load_le<std::uint8_t>(b.data() + 5), 0xff);
  const std::array<std::byte, 4> wire{std::byte{0x78}, std::byte{0x56}, std::byte{0x34}, std::byte{0x12}};
  EXPECT_EQ(load_le<std::uint32_t>(wire.data()), 0x12345678u);
}
