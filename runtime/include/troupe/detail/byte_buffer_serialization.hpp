// byte_buffer as a Boost.Serialization value: a count, then the bytes (the
// count is bounded by what is left of the payload, as every count is).
#pragma once

#include <troupe/detail/byte_buffer.hpp>

#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <boost/serialization/split_free.hpp>

namespace boost::serialization {

template <class A>
void save(A& ar, const troupe::detail::byte_buffer& b, unsigned) {
  collection_size_type n(b.size());
  ar << n;
  if (b.size()) ar << make_array(reinterpret_cast<const char*>(b.data()), b.size());
}

template <class A>
void load(A& ar, troupe::detail::byte_buffer& b, unsigned) {
  collection_size_type n;
  ar >> n;
  b.resize(n);
  if (b.size()) ar >> make_array(reinterpret_cast<char*>(b.data()), b.size());
}

template <class A>
void serialize(A& ar, troupe::detail::byte_buffer& b, unsigned v) {
  split_free(ar, b, v);
}

}  // namespace boost::serialization

BOOST_CLASS_IMPLEMENTATION(troupe::detail::byte_buffer, boost::serialization::object_serializable)
BOOST_CLASS_TRACKING(troupe::detail::byte_buffer, boost::serialization::track_never)
