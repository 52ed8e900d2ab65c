// Message types: any type Boost.Serialization can handle becomes a message
// with one line, TROUPE_MESSAGE(T). Its id is a 64-bit hash of its name, the
// same in every build and every process, never derived from typeid.
#pragma once

#include <troupe/detail/byte_buffer.hpp>
#include <troupe/detail/envelope.hpp>
#include <troupe/serialization.hpp>

#include <boost/serialization/string.hpp>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace troupe {

/// FNV-1a, 64 bit: the stable id of a message type name.
constexpr type_id type_id_of(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

/// Run-time descriptor of a message type.
struct message_type {
  type_id id;
  std::string_view name;
  bool raw;  ///< trivially copyable: the payload is the object's bytes
  std::size_t size;
  void (*destroy)(detail::envelope*) noexcept;
  /// Appends the payload bytes of `*value` (a T) to `out`.
  void (*serialize)(const void* value, detail::byte_buffer& out);
  /// The T inside an envelope of this type.
  const void* (*value_of)(const detail::envelope& e) noexcept;
  /// Builds a new envelope from payload bytes; throws deserialize_error.
  detail::envelope* (*deserialize)(std::span<const std::byte> payload);
};

/// Specialized by TROUPE_MESSAGE; the primary template is left undefined so
/// that sending an unregistered type is a compile-time error.
template <class T>
struct message_traits;

template <class T>
concept sendable = requires { message_traits<std::remove_cvref_t<T>>::name; };

namespace detail {
/// For static_asserts that fire only when a template is used.
template <class... T>
inline constexpr bool always_false = false;
}  // namespace detail

/// The words of the compile-time error for a type that is not a message type.
#define TROUPE_DETAIL_NOT_A_MESSAGE                                                          \
  "troupe: this type is not a message type; declare it at global scope with TROUPE_MESSAGE(T) " \
  "(see docs/guide.md, \"Declaring a message type\")"

/// Looks up a registered type; nullptr when this process does not know it.
const message_type* find_message_type(type_id id) noexcept;

/// Every registered type (for diagnostics and tests).
std::vector<const message_type*> registered_message_types();

namespace detail {

void register_message_type(const message_type& t);

template <class T>
inline constexpr bool raw_message = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>;

template <class T>
void destroy_envelope(envelope* e) noexcept {
  delete static_cast<typed_envelope<T>*>(e);
}

template <class T>
const void* envelope_value(const envelope& e) noexcept {
  return &static_cast<const typed_envelope<T>&>(e).value;
}

template <class T>
void serialize_value(const void* value, byte_buffer& out) {
  const T& v = *static_cast<const T*>(value);
  if constexpr (raw_message<T>)
    out.append(&v, sizeof(T));
  else
    save_to(out, v);
}

template <class T>
envelope* deserialize_envelope(std::span<const std::byte> payload) {
  if constexpr (raw_message<T>) {
    if (payload.size() != sizeof(T))
      throw deserialize_error("garbled payload: " + std::to_string(payload.size()) + " bytes for a message of " +
                              std::to_string(sizeof(T)));
    auto* e = new typed_envelope<T>(std::in_place);
    std::memcpy(static_cast<void*>(&e->value), payload.data(), sizeof(T));
    return e;
  } else {
    auto* e = new typed_envelope<T>(std::in_place);
    try {
      load_from(payload, e->value);
    } catch (...) {
      delete e;
      throw;
    }
    return e;
  }
}

// Inline everywhere: it runs for every message sent, received or matched,
// and its fast path is one test of an initialized guard.
template <class T>
[[gnu::always_inline]] inline const message_type& make_message_type(std::string_view name) {
  // The registry keeps the address of `t` itself (never of a copy).
  static const message_type t{type_id_of(name), name, raw_message<T>, sizeof(T), &destroy_envelope<T>,
                              &serialize_value<T>, &envelope_value<T>, &deserialize_envelope<T>};
  static const bool registered = (register_message_type(t), true);
  (void)registered;
  return t;
}

}  // namespace detail

/// The descriptor of message type T.
template <class T>
[[gnu::always_inline]] inline const message_type& message_type_of() noexcept {
  return message_traits<std::remove_cvref_t<T>>::type();
}

}  // namespace troupe

/// Makes T a message type, named by its spelling (e.g. "app::ping").
/// Use at global scope, once per type (in a header shared by all programs
/// that exchange it).
#define TROUPE_MESSAGE(T) TROUPE_MESSAGE_NAMED(T, #T)

/// Makes T a message type with an explicit stable name.
#define TROUPE_MESSAGE_NAMED(T, NAME)                                                       \
  template <>                                                                               \
  struct troupe::message_traits<T> {                                                        \
    [[maybe_unused]] static constexpr std::string_view name = NAME;                         \
    [[gnu::always_inline]] static const ::troupe::message_type& type() noexcept {           \
      return ::troupe::detail::make_message_type<T>(NAME);                                  \
    }                                                                                       \
    static inline const ::troupe::message_type& registered =                                \
        ::troupe::detail::make_message_type<T>(NAME);                                       \
  }

namespace troupe {

/// Traits for message types that are class templates (pipe_item<T>, ...):
/// the name is the type's `message_prefix` followed by the names of its
/// arguments, "troupe::pipe_item<int>", and the type registers itself at
/// start-up in every program whose code sends or receives it.
///
///   template <class T> struct troupe::message_traits<my_box<T>>
///       : troupe::template_message_traits<my_box<T>, T> {};
template <class Self, class... Args>
struct template_message_traits {
  static std::string_view full_name() {
    static const std::string s = [] {
      std::string n(Self::message_prefix);
      n += '<';
      bool first = true;
      ((n += first ? "" : ",", first = false, n += message_type_of<Args>().name), ...);
      n += '>';
      return n;
    }();
    return s;
  }
  static inline const std::string_view name = full_name();
  static const message_type& type() noexcept {
    (void)&registered;  // instantiates the registration below wherever the type is used
    return detail::make_message_type<Self>(full_name());
  }
  static inline const message_type& registered = detail::make_message_type<Self>(full_name());
};

}  // namespace troupe

// Plain values are messages too, so templates such as pipe<int> work.
TROUPE_MESSAGE_NAMED(bool, "bool");
TROUPE_MESSAGE_NAMED(char, "char");
TROUPE_MESSAGE_NAMED(signed char, "signed char");
TROUPE_MESSAGE_NAMED(unsigned char, "unsigned char");
TROUPE_MESSAGE_NAMED(short, "short");
TROUPE_MESSAGE_NAMED(unsigned short, "unsigned short");
TROUPE_MESSAGE_NAMED(int, "int");
TROUPE_MESSAGE_NAMED(unsigned, "unsigned");
TROUPE_MESSAGE_NAMED(long, "long");
TROUPE_MESSAGE_NAMED(unsigned long, "unsigned long");
TROUPE_MESSAGE_NAMED(long long, "long long");
TROUPE_MESSAGE_NAMED(unsigned long long, "unsigned long long");
TROUPE_MESSAGE_NAMED(float, "float");
TROUPE_MESSAGE_NAMED(double, "double");
TROUPE_MESSAGE_NAMED(std::string, "std::string");
