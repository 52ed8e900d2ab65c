// Serialization round trips through the registry, and refusal of garbage.
#include "test_messages.hpp"

#include <troupe/serialization.hpp>

#include <gtest/gtest.h>

#include <random>

using namespace troupe;
using namespace test_msgs;

namespace {

template <class T>
T round_trip(const T& v) {
  const message_type& t = message_type_of<T>();
  detail::byte_buffer buf;
  t.serialize(&v, buf);
  message m(t.deserialize(buf.span()));
  m.envelope()->type = &t;
  return std::move(m.get<T>());
}

template <class T>
std::string refusal(std::span<const std::byte> bytes) {
  try {
    message m(message_type_of<T>().deserialize(bytes));
    m.envelope()->type = &message_type_of<T>();
  } catch (const deserialize_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST(serialization, strings_round_trip) {
  EXPECT_EQ(round_trip(text{""}).s, "");
  EXPECT_EQ(round_trip(text{"hello"}).s, "hello");
  std::string big(1 << 20, 'x');
  big[12345] = '\0';
  EXPECT_EQ(round_trip(text{big}).s, big);
}

TEST(serialization, nested_user_types_with_vectors_maps_and_refs_round_trip) {
  nested n{"n", {{1, 2}, {3, 4}}, {{"a", {1, 2, 3}}, {"b", {}}}, actor_ref{0x1234, 77}};
  EXPECT_EQ(round_trip(n), n);
}

TEST(serialization, actor_ref_round_trips_inside_and_as_a_message) {
  actor_ref r{0xfedcba9876543210ull, 0x0000000500000003ull};
  EXPECT_EQ(round_trip(r), r);
  EXPECT_EQ(round_trip(down{r, exit_reason::error, "why"}).actor, r);
}

TEST(serialization, trivially_copyable_types_take_the_memcpy_path) {
  EXPECT_TRUE(message_type_of<ping>().raw);
  EXPECT_FALSE(message_type_of<text>().raw);
  detail::byte_buffer buf;
  ping p{42};
  message_type_of<ping>().serialize(&p, buf);
  EXPECT_EQ(buf.size(), sizeof(ping));
  EXPECT_EQ(round_trip(p).n, 42u);
}

TEST(serialization, type_ids_are_stable_hashes_of_names) {
  // FNV-1a of the name: the same in every build, so frames from other
  // processes name the same type.
  EXPECT_EQ(message_type_of<ping>().id, type_id_of("test_msgs::ping"));
  EXPECT_EQ(type_id_of(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(type_id_of("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(find_message_type(type_id_of("test_msgs::nested")), &message_type_of<nested>());
  EXPECT_EQ(find_message_type(type_id_of("no such type")), nullptr);
}

TEST(serialization, raw_payload_of_wrong_size_is_refused) {
  std::vector<std::byte> short_payload(sizeof(ping) - 1);
  EXPECT_NE(refusal<ping>(short_payload), "");
}

TEST(serialization, a_lying_string_length_is_refused_without_allocating_it) {
  detail::byte_buffer buf;
  text t{"abc"};
  message_type_of<text>().serialize(&t, buf);
  std::vector<std::byte> bytes(buf.data(), buf.data() + buf.size());
  // the first 8 bytes are the string length: claim an exabyte
  for (int i = 0; i < 8; ++i) bytes[i] = std::byte{0xff};
  bytes[7] = std::byte{0x0f};
  std::string why = refusal<text>(bytes);
  EXPECT_NE(why.find("garbled payload"), std::string::npos) << why;
}

TEST(serialization, a_lying_collection_count_is_refused) {
  detail::byte_buffer buf;
  nested n{"x", {{1, 2}}, {}, {}};
  message_type_of<nested>().serialize(&n, buf);
  std::vector<std::byte> bytes(buf.data(), buf.data() + buf.size());
  // find the vector's element count (1) after the name and patch it huge
  bool patched = false;
  for (std::size_t i = 0; i + 8 <= bytes.size() && !patched; ++i)
    if (bytes[i] == std::byte{1} && i > 9) {
      bytes[i + 4] = std::byte{0x7f};
      patched = true;
    }
  ASSERT_TRUE(patched);
  EXPECT_NE(refusal<nested>(bytes), "");
}

TEST(serialization, truncated_payloads_are_refused_at_every_length) {
  detail::byte_buffer buf;
  nested n{"name", {{1, 2}, {3, 4}}, {{"k", {5}}}, actor_ref{1, 2}};
  message_type_of<nested>().serialize(&n, buf);
  for (std::size_t len = 0; len < buf.size(); ++len)
    EXPECT_NE(refusal<nested>(buf.span().first(len)), "") << "accepted " << len << " of " << buf.size() << " bytes";
}

TEST(serialization, trailing_bytes_are_refused) {
  detail::byte_buffer buf;
  text t{"abc"};
  message_type_of<text>().serialize(&t, buf);
  buf.append("x", 1);
  EXPECT_NE(refusal<text>(buf.span()), "");
}

TEST(serialization, random_garbage_never_crashes) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::byte> bytes(rng() % 64);
    for (auto& b : bytes) b = std::byte(rng() & 0xff);
    try {
      message m(message_type_of<nested>().deserialize(bytes));
      m.envelope()->type = &message_type_of<nested>();
    } catch (const deserialize_error&) {
    }
  }
  SUCCEED();
}
