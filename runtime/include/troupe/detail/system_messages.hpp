// Control messages between nodes. They travel as frames with the `system`
// flag, addressed to the node rather than to an actor, and the router
// handles them itself.
#pragma once

#include <troupe/actor_ref.hpp>
#include <troupe/errors.hpp>
#include <troupe/message_type.hpp>

#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace troupe::detail::sys {

/// `watcher` (on the sender's node) monitors `target` (on the receiver's).
struct monitor {
  actor_ref target;
  actor_ref watcher;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & target & watcher;
  }
};

struct demonitor {
  actor_ref target;
  actor_ref watcher;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & target & watcher;
  }
};

struct kill {
  actor_ref target;
  exit_reason reason = exit_reason::killed;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & target & reason;
  }
};

/// Request: start the registered actor `actor_name` with serialized `args`;
/// answered with an actor_ref or request_failed.
struct spawn {
  std::string actor_name;
  std::string register_as;
  std::uint32_t mailbox_capacity = 0;
  std::vector<char> args;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & actor_name & register_as & mailbox_capacity & args;
  }
};

/// Request: who is registered as `name` on your node? Answered with
/// lookup_reply.
struct lookup {
  std::string name;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & name;
  }
};

struct lookup_reply {
  bool found = false;
  actor_ref ref;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & found & ref;
  }
};

/// To the root node: `ref` registered `name` (cluster-wide lookup).
struct register_name {
  std::string name;
  actor_ref ref;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & name & ref;
  }
};

struct unregister_name {
  std::string name;
  actor_ref ref;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & name & ref;
  }
};

/// Asks a node to shut down (graceful: its actors see actor_shutdown).
struct shutdown {
  std::string reason;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & reason;
  }
};

/// Credit handed back to a sending node: `target` (an actor of the
/// sender of this frame) took that many of its messages (see flow_control.hpp).
struct credit {  // raw: no padding, so no byte of it is left unset
  actor_id target = 0;
  std::uint64_t bytes = 0;
  std::uint32_t messages = 0;
  std::uint32_t reserved = 0;
};

}  // namespace troupe::detail::sys

TROUPE_MESSAGE_NAMED(troupe::detail::sys::monitor, "troupe::sys::monitor");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::demonitor, "troupe::sys::demonitor");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::kill, "troupe::sys::kill");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::spawn, "troupe::sys::spawn");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::lookup, "troupe::sys::lookup");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::lookup_reply, "troupe::sys::lookup_reply");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::shutdown, "troupe::sys::shutdown");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::register_name, "troupe::sys::register_name");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::unregister_name, "troupe::sys::unregister_name");
TROUPE_MESSAGE_NAMED(troupe::detail::sys::credit, "troupe::sys::credit");
