// The in-process form of a message: a header and the object itself, linked
// into a mailbox. A local send moves the object into a typed envelope; a
// frame from another process is deserialized into one.
#pragma once

#include <troupe/actor_ref.hpp>
#include <troupe/detail/pool.hpp>

#include <cstdint>
#include <utility>

namespace troupe {
struct message_type;
}

namespace troupe::detail {

struct envelope : pooled {
  envelope* next = nullptr;
  const message_type* type = nullptr;
  actor_ref sender;
  std::uint64_t correlation = 0;
  std::uint8_t flags = 0;  ///< frame_flags, and envelope_credited
  std::uint32_t wire_size = 0;  ///< frame bytes, for one from another node

  envelope() = default;
  envelope(const envelope&) = delete;
  envelope& operator=(const envelope&) = delete;

 protected:
  ~envelope() = default;  // destroyed through message_type::destroy
};

template <class T>
struct typed_envelope final : envelope {
  T value;
  template <class... A>
  explicit typed_envelope(std::in_place_t, A&&... a) : value(std::forward<A>(a)...) {}
};

}  // namespace troupe::detail
