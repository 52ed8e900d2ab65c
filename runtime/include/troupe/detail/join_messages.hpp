// What actor::join_all and its helper actor say to each other (both on the
// waiter's node: never serialized in practice, yet messages like any other).
#pragma once

#include <troupe/errors.hpp>
#include <troupe/message_type.hpp>

#include <boost/serialization/vector.hpp>
#include <vector>

namespace troupe::detail {

/// Waiter to helper: answer me once every target has ended.
struct join_request {
  template <class A>
  void serialize(A&, unsigned) {}
};

/// Helper to waiter: how each target ended, in the order given.
struct join_reply {
  std::vector<down> downs;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & downs;
  }
};

}  // namespace troupe::detail

TROUPE_MESSAGE_NAMED(troupe::detail::join_request, "troupe::detail::join_request");
TROUPE_MESSAGE_NAMED(troupe::detail::join_reply, "troupe::detail::join_reply");
