// The address of an actor anywhere in the cluster: the node that hosts it and
// its id there. A plain value: copy it, compare it, put it inside messages.
#pragma once

#include <troupe/transport/frame.hpp>

#include <compare>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace troupe {

struct actor_ref {
  node_id node = 0;
  actor_id id = 0;

  constexpr explicit operator bool() const noexcept { return id != 0; }
  friend constexpr bool operator==(const actor_ref&, const actor_ref&) = default;
  friend constexpr auto operator<=>(const actor_ref&, const actor_ref&) = default;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar & node & id;
  }

  /// "<node hex>/<actor id>", as the logs print it.
  std::string to_string() const;
};

std::ostream& operator<<(std::ostream&, const actor_ref&);

/// A node of the cluster (one per OS process), e.g. to spawn actors there.
struct node_ref {
  node_id id = 0;
  constexpr explicit operator bool() const noexcept { return id != 0; }
  friend constexpr bool operator==(const node_ref&, const node_ref&) = default;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar & id;
  }
};

/// Node ids print as 16 hex digits.
std::string node_id_string(node_id);

}  // namespace troupe

template <>
struct std::hash<troupe::actor_ref> {
  std::size_t operator()(const troupe::actor_ref& r) const noexcept {
    return std::hash<std::uint64_t>{}(r.node * 0x9e3779b97f4a7c15ull ^ r.id);
  }
};
