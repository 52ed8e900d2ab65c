// Serialization round trips through the registry, and refusal of garbage.
#include "test_messages.hpp"

#include <troupe/serialization.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

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

// What deserializing untrusted bytes did; `broken` lists what did anything
// but yield a value or throw deserialize_error.
struct outcomes {
  int values = 0;
  int refusals = 0;
  std::vector<std::string> broken;
};
enum class verdict { value, refused, broken };

template <class T>
verdict decode_untrusted(std::span<const std::byte> bytes, outcomes& o) {
  const message_type& t = message_type_of<T>();
  auto broke = [&](const std::string& why) {
    o.broken.push_back(why + " (" + std::to_string(bytes.size()) + " bytes as " + std::string(t.name) + ")");
    return verdict::broken;
  };
  message m;
  try {
    m = message(t.deserialize(bytes));
  } catch (const deserialize_error&) {
    ++o.refusals;
    return verdict::refused;
  } catch (const std::exception& e) {
    return broke(std::string("threw something else: ") + e.what());
  } catch (...) {
    return broke("threw a non-std exception");
  }
  if (!m) return broke("yielded no envelope");
  m.envelope()->type = &t;
  // A value it yields is a whole one: it serializes, and reads back the same.
  try {
    detail::byte_buffer once, twice;
    t.serialize(&m.get<T>(), once);
    message back(t.deserialize(once.span()));
    back.envelope()->type = &t;
    t.serialize(&back.get<T>(), twice);
    if (!std::ranges::equal(once.span(), twice.span())) return broke("yielded a value that does not round trip");
  } catch (const std::exception& e) {
    return broke(std::string("yielded a value that does not round trip: ") + e.what());
  }
  ++o.values;
  return verdict::value;
}

void expect_contract(const outcomes& o, const char* what) {
  EXPECT_TRUE(o.broken.empty()) << what << ": " << o.broken.size() << " inputs broke the contract, the first "
                                << o.broken.front();
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
  // The contract for untrusted bytes: a value, or deserialize_error, and
  // nothing else. "No crash" alone would also pass a decoder that took
  // every input as valid, so the refusals are counted and asserted too.
  std::mt19937_64 rng(7);
  auto random_bytes = [&](std::size_t n) {
    std::vector<std::byte> v(n);
    for (auto& b : v) b = std::byte(rng() & 0xff);
    return v;
  };
  detail::byte_buffer buf;
  nested n{"name", {{1, 2}, {3, 4}}, {{"k", {5, 6}}}, actor_ref{1, 2}};
  message_type_of<nested>().serialize(&n, buf);
  const std::vector<std::byte> good(buf.data(), buf.data() + buf.size());
  auto mutated = [&] {
    std::vector<std::byte> v = good;
    v[rng() % v.size()] = std::byte(rng() & 0xff);
    return v;
  };

  // Short random bytes: almost never a message.
  outcomes random;
  for (int round = 0; round < 2000; ++round) {
    auto bytes = random_bytes(rng() % 64);
    decode_untrusted<nested>(bytes, random);
    decode_untrusted<text>(bytes, random);
  }
  expect_contract(random, "random bytes");
  EXPECT_GT(random.refusals, random.values);

  // One byte changed in a valid payload: the decoder gets deep into the
  // archive (lengths, counts, class versions, tracking flags), and both
  // outcomes happen.
  outcomes changed;
  for (int round = 0; round < 2000; ++round) decode_untrusted<nested>(mutated(), changed);
  expect_contract(changed, "a changed byte");
  EXPECT_GT(changed.refusals, 0);
  EXPECT_GT(changed.values, 0);  // a changed character or number is still a message

  // Truncated: a strict prefix of a valid payload is never a whole message;
  // one of a changed payload may be, but must still keep the contract.
  outcomes cut;
  for (std::size_t len = 0; len < good.size(); ++len)
    EXPECT_EQ(decode_untrusted<nested>(std::span(good).first(len), cut), verdict::refused)
        << "accepted " << len << " of " << good.size() << " bytes";
  for (int round = 0; round < 2000; ++round) {
    auto bytes = mutated();
    bytes.resize(rng() % bytes.size());
    decode_untrusted<nested>(bytes, cut);
  }
  expect_contract(cut, "truncated payloads");

  // Oversized: bytes after a whole message are refused, and megabytes of
  // garbage (lengths and counts claiming anything) are refused or read,
  // never trusted into a crash or a giant allocation.
  outcomes big;
  for (int round = 0; round < 200; ++round) {
    auto bytes = good;
    auto tail = random_bytes(1 + rng() % 4096);
    bytes.insert(bytes.end(), tail.begin(), tail.end());
    EXPECT_EQ(decode_untrusted<nested>(bytes, big), verdict::refused) << tail.size() << " bytes after the message";
  }
  for (std::byte fill : {std::byte{0x00}, std::byte{0xff}}) {
    std::vector<std::byte> bytes(std::size_t{1} << 20, fill);
    EXPECT_EQ(decode_untrusted<nested>(bytes, big), verdict::refused);
    EXPECT_EQ(decode_untrusted<text>(bytes, big), verdict::refused);
  }
  for (std::size_t size : {std::size_t{64} << 10, std::size_t{1} << 20}) {
    auto bytes = random_bytes(size);
    decode_untrusted<nested>(bytes, big);
    decode_untrusted<text>(bytes, big);
  }
  expect_contract(big, "oversized payloads");

  // A raw (memcpy) type: exactly its size is a value, any other is refused.
  outcomes raw;
  for (int round = 0; round < 200; ++round) {
    auto bytes = random_bytes(rng() % (2 * sizeof(ping) + 1));
    verdict want = bytes.size() == sizeof(ping) ? verdict::value : verdict::refused;
    EXPECT_EQ(decode_untrusted<ping>(bytes, raw), want) << bytes.size() << " bytes";
  }
  expect_contract(raw, "raw payloads");
  EXPECT_GT(raw.refusals, 0);
  EXPECT_GT(raw.values, 0);
}

// Numbers skip setting up an archive; the bytes must be the archive's, so
// that either side may read them the other way.
template <class T>
std::vector<std::byte> through_archive(const T& v) {
  detail::byte_buffer b;
  oarchive ar(b);
  ar << v;
  return {b.span().begin(), b.span().end()};
}

TEST(serialization, numbers_are_written_as_an_archive_writes_them) {
  auto same = [](auto v) {
    detail::byte_buffer fast;
    save_to(fast, v);
    EXPECT_EQ(std::vector<std::byte>(fast.span().begin(), fast.span().end()), through_archive(v));
    decltype(v) back{};
    iarchive ar(fast.span());
    ar >> back;  // read the archive's way
    EXPECT_EQ(back, v);
    decltype(v) again{};
    load_from(std::span<const std::byte>(through_archive(v)), again);  // written the archive's way
    EXPECT_EQ(again, v);
  };
  same(std::int64_t{-5});
  same(std::uint8_t{200});
  same(3.25);
  same(1.5f);
  same(std::uint64_t{1} << 63);
  same('x');
  detail::byte_buffer args;
  detail::save_args(args, 7L, 2.5, std::int16_t{-3});
  detail::byte_buffer expected;
  {
    oarchive ar(expected);
    ar << 7L << 2.5 << std::int16_t{-3};
  }
  EXPECT_EQ(std::vector<std::byte>(args.span().begin(), args.span().end()),
            std::vector<std::byte>(expected.span().begin(), expected.span().end()));
  std::tuple<long, double, std::int16_t> t;
  detail::load_args(args.span(), t);
  EXPECT_EQ(t, std::make_tuple(7L, 2.5, std::int16_t{-3}));
}

TEST(serialization, numbers_of_the_wrong_size_are_refused) {
  std::byte four[4] = {};
  long v = 0;
  EXPECT_THROW(load_from(std::span<const std::byte>(four), v), deserialize_error);
  std::tuple<long, long> two;
  detail::byte_buffer one;
  detail::save_args(one, 1L);
  EXPECT_THROW(detail::load_args(one.span(), two), deserialize_error);
  std::tuple<long> shorter;
  detail::byte_buffer three;
  detail::save_args(three, 1L, 2L, 3L);
  EXPECT_THROW(detail::load_args(three.span(), shorter), deserialize_error);
}
