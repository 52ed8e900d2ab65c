#include <troupe/serialization.hpp>

#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>

namespace troupe {

void iarchive::check_length(std::size_t n, std::size_t element_bytes, const char* what) const {
  // Every element takes at least element_bytes on the wire; anything larger
  // than what is left cannot be honest.
  if (element_bytes && n > src_.remaining() / element_bytes)
    throw deserialize_error(std::string("garbled payload: ") + what + " of " + std::to_string(n) +
                            " elements with only " + std::to_string(src_.remaining()) + " bytes left");
}

void iarchive::load(std::string& s) {
  std::size_t n = 0;
  base::load(n);
  check_length(n, 1, "string");
  s.resize(n);
  if (n) load_binary(s.data(), n);
}

void iarchive::load(std::wstring& s) {
  std::size_t n = 0;
  base::load(n);
  check_length(n, sizeof(wchar_t), "wide string");
  s.resize(n);
  if (n) load_binary(s.data(), n * sizeof(wchar_t));
}

void iarchive::load_override(boost::serialization::collection_size_type& t) {
  base::load_override(t);
  // Elements may serialize to nothing (empty structs), but a count beyond
  // the remaining bytes is never something a troupe sender wrote for the
  // element types that matter; refuse it before the container allocates.
  check_length(static_cast<std::size_t>(t), 1, "collection");
}

}  // namespace troupe

template class boost::archive::detail::archive_serializer_map<troupe::iarchive>;
template class boost::archive::basic_binary_iprimitive<troupe::iarchive, char, std::char_traits<char>>;
template class boost::archive::basic_binary_iarchive<troupe::iarchive>;
template class boost::archive::binary_iarchive_impl<troupe::iarchive, char, std::char_traits<char>>;
