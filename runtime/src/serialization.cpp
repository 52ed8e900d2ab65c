#include <troupe/serialization.hpp>

#include <boost/archive/impl/archive_serializer_map.ipp>
#include <cwchar>

namespace troupe {

// --- output -----------------------------------------------------------------

void oarchive::save(const std::string& s) {
  std::size_t n = s.size();
  save(n);
  save_binary(s.data(), n);
}

void oarchive::save(const std::wstring& s) {
  std::size_t n = s.size();
  save(n);
  save_binary(s.data(), n * sizeof(wchar_t));
}

void oarchive::save(const char* s) {
  std::size_t n = std::strlen(s);
  save(n);
  save_binary(s, n);
}

void oarchive::save(const wchar_t* s) {
  std::size_t n = std::wcslen(s);
  save(n);
  save_binary(s, n * sizeof(wchar_t));
}

// --- input ------------------------------------------------------------------

void iarchive::truncated(std::size_t wanted) const {
  throw deserialize_error("garbled payload: " + std::to_string(wanted) + " more bytes wanted, " +
                          std::to_string(remaining()) + " left (truncated?)");
}

void iarchive::check_count(std::size_t n, std::size_t element_bytes, const char* what) const {
  // Every element takes at least element_bytes on the wire; anything larger
  // than what is left cannot be honest.
  if (n > remaining() / element_bytes)
    throw deserialize_error(std::string("garbled payload: ") + what + " of " + std::to_string(n) +
                            " elements with only " + std::to_string(remaining()) + " bytes left");
}

void iarchive::load(bool& b) {
  unsigned char c = 0;
  load_binary(&c, 1);
  if (c > 1) throw deserialize_error("garbled payload: a bool holds " + std::to_string(c));
  b = c != 0;
}

void iarchive::load(std::string& s) {
  std::size_t n = 0;
  load(n);
  check_count(n, 1, "string");
  s.resize(n);
  load_binary(s.data(), n);
}

void iarchive::load(std::wstring& s) {
  std::size_t n = 0;
  load(n);
  check_count(n, sizeof(wchar_t), "wide string");
  s.resize(n);
  load_binary(s.data(), n * sizeof(wchar_t));
}

// Raw C strings only appear in class names, bounded by Boost's key size.
void iarchive::load(char* s) {
  std::size_t n = 0;
  load(n);
  if (n >= BOOST_SERIALIZATION_MAX_KEY_SIZE) throw deserialize_error("garbled payload: class name too long");
  load_binary(s, n);
  s[n] = '\0';
}

void iarchive::load(wchar_t* s) {
  std::size_t n = 0;
  load(n);
  if (n >= BOOST_SERIALIZATION_MAX_KEY_SIZE) throw deserialize_error("garbled payload: class name too long");
  load_binary(s, n * sizeof(wchar_t));
  s[n] = L'\0';
}

void iarchive::load_override(boost::serialization::collection_size_type& t) {
  boost::archive::basic_binary_iarchive<iarchive>::load_override(t);
  // Elements may serialize to nothing (empty structs), but a count beyond
  // the remaining bytes is refused before the container allocates.
  check_count(static_cast<std::size_t>(t), 1, "collection");
}

void iarchive::load_override(boost::archive::class_name_type& t) {
  std::string name;
  load(name);
  if (name.size() >= BOOST_SERIALIZATION_MAX_KEY_SIZE) throw deserialize_error("garbled payload: class name too long");
  std::memcpy(t.t, name.data(), name.size());
  t.t[name.size()] = '\0';
}

}  // namespace troupe

template class boost::archive::detail::archive_serializer_map<troupe::oarchive>;
template class boost::archive::detail::archive_serializer_map<troupe::iarchive>;
