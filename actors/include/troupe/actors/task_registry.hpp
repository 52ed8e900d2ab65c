// Functions a pool can run in any process: TROUPE_TASK(fn) registers a
// plain function `R fn(A...)` by name, with the code to decode its
// arguments and encode its result.
#pragma once

#include <troupe/actor_registry.hpp>
#include <troupe/detail/byte_buffer.hpp>
#include <troupe/message_type.hpp>
#include <troupe/serialization.hpp>

#include <boost/serialization/vector.hpp>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace troupe::detail {

struct task_function {
  std::string name;
  std::uint64_t id = 0;
  erased_function fn = nullptr;
  /// Decodes one argument list, calls, encodes the result; throws what the
  /// function throws (or deserialize_error).
  void (*apply)(erased_function fn, std::span<const std::byte> args, byte_buffer& result) = nullptr;
  /// For functions of one argument: decodes a std::vector of arguments,
  /// calls for each, encodes the std::vector of results.
  void (*map)(erased_function fn, std::span<const std::byte> chunk, byte_buffer& results) = nullptr;
};

void register_task_function(task_function f);
const task_function* find_task_function(std::uint64_t id) noexcept;
const task_function* find_task_function(erased_function fn) noexcept;

/// void results travel as this.
struct no_result {
  template <class A>
  void serialize(A&, unsigned) {}
};

template <class R>
using result_t = std::conditional_t<std::is_void_v<R>, no_result, R>;

template <class R, class... A>
void apply_task(erased_function fn, std::span<const std::byte> bytes, byte_buffer& out) {
  auto f = restore_function<R(A...)>(fn);
  std::tuple<std::decay_t<A>...> args;
  load_args(bytes, args);
  if constexpr (std::is_void_v<R>) {
    std::apply(f, std::move(args));
  } else {
    R r = std::apply(f, std::move(args));
    save_to(out, r);
  }
}

template <class R, class A>
void map_task(erased_function fn, std::span<const std::byte> bytes, byte_buffer& out) {
  auto f = restore_function<R(A)>(fn);
  std::vector<std::decay_t<A>> in;
  load_from(bytes, in);
  std::vector<result_t<R>> results;
  results.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {  // (by index: std::vector<bool> has no references)
    if constexpr (std::is_void_v<R>) {
      f(in[i]);
      results.emplace_back();
    } else {
      results.push_back(f(in[i]));
    }
  }
  save_to(out, results);
}

template <class R, class... A>
bool register_task(std::string_view name, R (*fn)(A...)) {
  task_function t;
  t.name = std::string(name);
  t.id = type_id_of(name);
  t.fn = erase_function(fn);
  t.apply = &apply_task<R, A...>;
  if constexpr (sizeof...(A) == 1) t.map = &map_task<R, A...>;
  register_task_function(std::move(t));
  return true;
}

}  // namespace troupe::detail

TROUPE_MESSAGE_NAMED(troupe::detail::no_result, "troupe::no_result");

/// Registers a function for pools: use at namespace scope, once per function.
#define TROUPE_TASK(fn) TROUPE_TASK_NAMED(fn, #fn)
#define TROUPE_TASK_NAMED(fn, NAME)                                                          \
  [[maybe_unused]] static const bool TROUPE_PP_CAT(troupe_task_registered_, __COUNTER__) = \
      ::troupe::detail::register_task(NAME, &fn)
