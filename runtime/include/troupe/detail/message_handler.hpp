// What the handler form of receive accepts: a callable of one parameter
// whose type is a message type T (as T, T& or const T&), or received<T>
// (to know the sender, or to reply).
#pragma once

#include <troupe/message.hpp>
#include <troupe/message_type.hpp>

#include <type_traits>

namespace troupe::detail {

template <class M>
struct handler_signature {};
template <class R, class C, class P>
struct handler_signature<R (C::*)(P) const> {
  using param = P;
};
template <class R, class C, class P>
struct handler_signature<R (C::*)(P)> {
  using param = P;
};

template <class H>
struct handler_param {};
template <class H>
  requires requires { &H::operator(); }
struct handler_param<H> {
  using type = typename handler_signature<decltype(&H::operator())>::param;
};
template <class R, class P>
struct handler_param<R (*)(P)> {
  using type = P;
};

template <class P, class D = std::remove_cvref_t<P>>
struct handled_type {
  using type = D;
  static constexpr bool wants_received = false;
};
template <class P, class T>
struct handled_type<P, received<T>> {
  using type = T;
  static constexpr bool wants_received = true;
};

template <class H>
concept has_handler_param = requires { typename handler_param<std::decay_t<H>>::type; };

template <class H>
using handled_of = handled_type<typename handler_param<std::decay_t<H>>::type>;
template <class H>
using handled_t = typename handled_of<H>::type;

template <class H>
concept message_handler = has_handler_param<H> && sendable<handled_t<H>>;

}  // namespace troupe::detail
