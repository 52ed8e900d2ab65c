// Exceptions of a pool task that come back as themselves. By default a task
// that raises comes back to the caller as pool_task_error, carrying the
// exception's type name and message. A type registered here (in the
// program, so in every process of it) is thrown again as itself, made from
// its message, as Python re-raises a worker's exception with its own type:
//
//   struct quota_exceeded : std::runtime_error { using std::runtime_error::runtime_error; };
//   TROUPE_EXCEPTION(quota_exceeded);
//   ...
//   try { co_await p.apply(self, work, job); } catch (const quota_exceeded& e) { ... }
//
// The type must be constructible from a std::string (its message); what it
// held beyond what() does not travel.
#pragma once

#include <troupe/actor_registry.hpp>

#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

namespace troupe {

namespace detail {
using exception_thrower = void (*)(const std::string& message);
/// Registers `thrower` for the exception type named `type` (as
/// exception_type_name gives it); false if the name was taken.
bool register_exception_type(const std::type_info& type, exception_thrower thrower);
/// The registered thrower for a type name, or nullptr.
exception_thrower find_exception_thrower(std::string_view type_name) noexcept;
/// The demangled name of a type, as failures carry it ("std::out_of_range").
std::string exception_type_name(const std::type_info& type);
}  // namespace detail

/// Makes E, raised by a pool task, come back to the caller as an E made
/// from its message. Use at namespace scope, or TROUPE_EXCEPTION(E).
template <class E>
bool register_exception() {
  static_assert(std::is_constructible_v<E, const std::string&>,
                "a registered exception type must be constructible from its message (a std::string)");
  return detail::register_exception_type(typeid(E), [](const std::string& message) { throw E(message); });
}

}  // namespace troupe

#define TROUPE_EXCEPTION(E)                                                                 \
  [[maybe_unused]] static const bool TROUPE_PP_CAT(troupe_exception_registered_, __COUNTER__) = \
      ::troupe::register_exception<E>()
