// libFuzzer target: the frame decoder and message deserialization, fed
// arbitrary bytes. Any crash, leak or sanitizer report is a bug; refusals
// (frame_error, deserialize_error) are the expected outcome for garbage.
#include <troupe/errors.hpp>
#include <troupe/message.hpp>
#include <troupe/transport/frame.hpp>
#include <troupe/detail/system_messages.hpp>

#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace fuzz {
struct inner {
  int a = 0;
  std::string s;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & a & s;
  }
};
struct outer {
  std::vector<inner> items;
  std::map<std::string, std::vector<std::int64_t>> table;
  troupe::actor_ref ref;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & items & table & ref;
  }
};
struct flat {
  std::uint64_t x;
  double y;
};
}  // namespace fuzz

TROUPE_MESSAGE(fuzz::outer);
TROUPE_MESSAGE(fuzz::flat);

namespace {

const troupe::message_type* const types[] = {
    &troupe::message_type_of<fuzz::outer>(),
    &troupe::message_type_of<fuzz::flat>(),
    &troupe::message_type_of<troupe::down>(),
    &troupe::message_type_of<troupe::request_failed>(),
    &troupe::message_type_of<troupe::detail::sys::spawn>(),
    &troupe::message_type_of<troupe::detail::sys::register_name>(),
    &troupe::message_type_of<std::string>(),
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  // 1. As a whole frame.
  troupe::frame_limits limits{1u << 20};
  try {
    troupe::frame_view v = troupe::decode_frame(bytes, limits);
    if (const troupe::message_type* t = troupe::find_message_type(v.header.type)) {
      try {
        troupe::message m(t->deserialize(v.payload));
        m.envelope()->type = t;
      } catch (const troupe::deserialize_error&) {
      }
    }
  } catch (const troupe::frame_error&) {
  }
  // 2. As the payload of each known type (the first byte picks one).
  if (size > 0) {
    const troupe::message_type* t = types[data[0] % std::size(types)];
    try {
      troupe::message m(t->deserialize(bytes.subspan(1)));
      m.envelope()->type = t;
    } catch (const troupe::deserialize_error&) {
    }
  }
  return 0;
}
