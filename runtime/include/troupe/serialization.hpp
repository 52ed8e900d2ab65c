// Boost.Serialization archives as troupe uses them on the wire: binary, no
// header, no codecvt. The input archive distrusts the bytes: a length or an
// element count larger than what is left of the payload is refused before
// anything is allocated, so a garbled frame cannot make a node allocate
// gigabytes.
#pragma once

#include <troupe/detail/byte_buffer.hpp>

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

namespace troupe {

/// The archive flags every troupe archive uses.
inline constexpr unsigned archive_flags = boost::archive::no_header | boost::archive::no_codecvt;

using oarchive = boost::archive::binary_oarchive;

/// Thrown when a payload does not deserialize (garbled, truncated, lying lengths).
class deserialize_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Binary input archive that bounds every length by the bytes remaining.
class iarchive : public boost::archive::binary_iarchive_impl<iarchive, char, std::char_traits<char>> {
  using base = boost::archive::binary_iarchive_impl<iarchive, char, std::char_traits<char>>;
  friend class boost::archive::detail::interface_iarchive<iarchive>;
  friend class boost::archive::basic_binary_iarchive<iarchive>;
  friend class boost::archive::basic_binary_iprimitive<iarchive, char, std::char_traits<char>>;
  friend class boost::archive::load_access;

 public:
  explicit iarchive(detail::span_source& src) : base(src, archive_flags), src_(src) { init(archive_flags); }

  std::size_t remaining() const noexcept { return src_.remaining(); }

 protected:
  using base::load;
  void load(std::string& s);
  void load(std::wstring& s);

  template <class T>
  void load_override(T& t) {
    base::load_override(t);
  }
  void load_override(boost::serialization::collection_size_type& t);

 private:
  void check_length(std::size_t n, std::size_t element_bytes, const char* what) const;
  detail::span_source& src_;
};

/// Serializes `value` (Boost.Serialization) and appends the bytes to `out`.
template <class T>
void save_to(detail::byte_buffer& out, const T& value) {
  detail::buffer_sink sink(out);
  oarchive ar(sink, archive_flags);
  ar << value;
}

/// Deserializes a T from exactly the bytes of `in`; throws deserialize_error
/// on garbage or when bytes are left over.
template <class T>
void load_from(std::span<const std::byte> in, T& value) {
  detail::span_source src(in);
  try {
    iarchive ar(src);
    ar >> value;
  } catch (const boost::archive::archive_exception& e) {
    throw deserialize_error(std::string("garbled payload: ") + e.what());
  } catch (const std::bad_alloc&) {
    throw deserialize_error("garbled payload: allocation failed while deserializing");
  } catch (const std::length_error& e) {
    throw deserialize_error(std::string("garbled payload: ") + e.what());
  }
  if (src.remaining() != 0)
    throw deserialize_error("garbled payload: " + std::to_string(src.remaining()) + " bytes left after the message");
}

}  // namespace troupe

BOOST_SERIALIZATION_REGISTER_ARCHIVE(troupe::iarchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(troupe::iarchive)
