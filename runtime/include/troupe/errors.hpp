// Errors an actor program can meet, and the `down` message monitors get.
#pragma once

#include <troupe/actor_ref.hpp>
#include <troupe/message_type.hpp>

#include <boost/serialization/string.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace troupe {

/// Why an actor ended.
enum class exit_reason : std::uint8_t {
  normal,         ///< its body returned
  error,          ///< an exception escaped its body (detail: the exception's text)
  killed,         ///< kill() ended it
  shutdown,       ///< its node shut down
  unreachable,    ///< its node died or was cut off (detail: how)
  no_such_actor,  ///< it did not exist when monitored
};

const char* to_string(exit_reason) noexcept;

/// Delivered to every monitor of an actor when the actor ends.
struct down {
  actor_ref actor;
  exit_reason reason = exit_reason::normal;
  std::string detail;

  template <class A>
  void serialize(A& ar, unsigned) {
    ar & actor & reason & detail;
  }
};

enum class request_errc : std::uint8_t {
  timeout,           ///< no reply in time
  no_such_actor,     ///< the target did not exist
  actor_down,        ///< the target ended before it replied
  unreachable,       ///< the target's node cannot be reached
  unexpected_reply,  ///< the reply had another type than asked for
  remote_error,      ///< the target answered with an error (detail says which)
};

const char* to_string(request_errc) noexcept;

class request_error : public std::runtime_error {
 public:
  request_error(request_errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  request_errc code() const noexcept { return code_; }

 private:
  request_errc code_;
};

/// Thrown inside an actor whose node shuts down (or whose process was asked
/// to terminate) at the wait it was in, so it can unwind and finish.
class actor_shutdown : public std::runtime_error {
 public:
  actor_shutdown() : std::runtime_error("the actor's node is shutting down") {}
};

/// The reply a node sends in place of a real one when a request fails.
struct request_failed {
  request_errc code = request_errc::remote_error;
  std::string detail;

  template <class A>
  void serialize(A& ar, unsigned) {
    ar & code & detail;
  }
};

}  // namespace troupe

TROUPE_MESSAGE_NAMED(troupe::down, "troupe::down");
TROUPE_MESSAGE_NAMED(troupe::request_failed, "troupe::request_failed");
TROUPE_MESSAGE_NAMED(troupe::actor_ref, "troupe::actor_ref");
