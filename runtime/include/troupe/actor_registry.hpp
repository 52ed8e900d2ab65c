// Actors that other processes can start by name: TROUPE_ACTOR(fn) registers
// `task<void> fn(actor& self, A...)` so that spawn(node, fn, args...) works
// on any node of the cluster; the arguments travel serialized.
#pragma once

#include <troupe/actor_ref.hpp>
#include <troupe/detail/erased_function.hpp>
#include <troupe/serialization.hpp>
#include <troupe/spawn_options.hpp>
#include <troupe/task.hpp>

#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace troupe {

class node;
class actor;

namespace detail {

struct actor_factory {
  std::string name;
  erased_function fn;
  /// Starts the actor on `n` with arguments deserialized from `args`;
  /// throws deserialize_error when they do not fit the signature.
  actor_ref (*start)(node& n, const spawn_options& opts, erased_function fn, std::span<const std::byte> args);
};

void register_actor_factory(actor_factory f);
const actor_factory* find_actor_factory(std::string_view name) noexcept;
const actor_factory* find_actor_factory(erased_function fn) noexcept;

template <class... A>
void save_args(byte_buffer& out, const A&... args) {
  if constexpr ((archive_plain_v<A> && ...)) {
    (out.append(&args, sizeof args), ...);  // what the archive writes for numbers
  } else {
    oarchive ar(out);
    ((ar << args), ...);
  }
}

/// Decodes arguments written by save_args into `args`; throws
/// deserialize_error when they do not fit.
template <class... A>
void load_args(std::span<const std::byte> bytes, std::tuple<A...>& args) {
  if constexpr ((archive_plain_v<A> && ...)) {
    constexpr std::size_t need = (std::size_t{0} + ... + sizeof(A));
    if (bytes.size() != need)
      throw deserialize_error("arguments do not fit the parameters: " + std::to_string(bytes.size()) +
                              " bytes for " + std::to_string(need));
    std::size_t at = 0;
    std::apply([&](auto&... a) { ((std::memcpy(&a, bytes.data() + at, sizeof a), at += sizeof a), ...); }, args);
    return;
  }
  iarchive ar(bytes);
  try {
    std::apply([&](auto&... a) { ((ar >> a), ...); }, args);
  } catch (const deserialize_error&) {
    throw;
  } catch (const std::exception& e) {
    throw deserialize_error(std::string("arguments do not fit the parameters: ") + e.what());
  }
  if (ar.remaining()) throw deserialize_error("arguments do not fit the parameters: bytes left over");
}

template <class... P>
actor_ref start_registered(node& n, const spawn_options& opts, erased_function fn, std::span<const std::byte> bytes);

template <class... P>
bool register_actor(std::string_view name, task<void> (*fn)(actor&, P...)) {
  register_actor_factory({std::string(name), erase_function(fn), &start_registered<P...>});
  return true;
}

}  // namespace detail
}  // namespace troupe

#define TROUPE_PP_CAT_(a, b) a##b
#define TROUPE_PP_CAT(a, b) TROUPE_PP_CAT_(a, b)

/// Registers an actor function so that any process can start it by name.
/// Use at namespace scope, once per function.
#define TROUPE_ACTOR(fn) TROUPE_ACTOR_NAMED(fn, #fn)
#define TROUPE_ACTOR_NAMED(fn, NAME)                                                       \
  [[maybe_unused]] static const bool TROUPE_PP_CAT(troupe_actor_registered_, __COUNTER__) = \
      ::troupe::detail::register_actor(NAME, &fn)
