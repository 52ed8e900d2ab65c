// Boost.Serialization archives as troupe uses them on the wire. They speak
// Boost's binary archive format (native byte order, no header), but write
// straight into a byte buffer and read straight from a byte span: no
// streams, no locales, so an archive costs tens of nanoseconds to set up
// instead of hundreds. The input archive distrusts the bytes: a length or
// element count larger than what is left of the payload is refused before
// anything is allocated, so a garbled frame cannot make a node allocate
// gigabytes.
#pragma once

#include <troupe/detail/byte_buffer.hpp>

#include <boost/archive/basic_archive.hpp>
#include <boost/archive/basic_binary_iarchive.hpp>
#include <boost/archive/basic_binary_oarchive.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <boost/serialization/is_bitwise_serializable.hpp>
#include <cstddef>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace troupe {

/// The archive flags every troupe archive uses.
inline constexpr unsigned archive_flags = boost::archive::no_header | boost::archive::no_codecvt;

/// Thrown when a payload does not deserialize (garbled, truncated, lying lengths).
class deserialize_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Output archive appending to a byte_buffer.
class oarchive : public boost::archive::basic_binary_oarchive<oarchive> {
 public:
  explicit oarchive(detail::byte_buffer& out) : boost::archive::basic_binary_oarchive<oarchive>(archive_flags), out_(out) {}

  void save_binary(const void* p, std::size_t n) { out_.append(p, n); }
  template <class T>
  void save(const T& t) {
    save_binary(&t, sizeof(T));
  }
  void save(const std::string& s);
  void save(const std::wstring& s);
  void save(const char* s);
  void save(const wchar_t* s);
  template <class V>
  void save_array(const boost::serialization::array_wrapper<V>& a, unsigned) {
    save_binary(a.address(), a.count() * sizeof(V));
  }
  struct use_array_optimization {
    template <class T>
    struct apply : public boost::serialization::is_bitwise_serializable<T> {};
  };

 private:
  detail::byte_buffer& out_;
};

/// Input archive over a byte span that bounds every length by the bytes left.
class iarchive : public boost::archive::basic_binary_iarchive<iarchive> {
 public:
  explicit iarchive(std::span<const std::byte> in)
      : boost::archive::basic_binary_iarchive<iarchive>(archive_flags), p_(in.data()), end_(in.data() + in.size()) {}

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }

  void load_binary(void* p, std::size_t n) {
    if (n > remaining()) truncated(n);
    if (n) std::memcpy(p, p_, n);
    p_ += n;
  }
  template <class T>
  void load(T& t) {
    load_binary(&t, sizeof(T));
  }
  void load(bool& b);
  void load(std::string& s);
  void load(std::wstring& s);
  void load(char* s);
  void load(wchar_t* s);
  template <class V>
  void load_array(boost::serialization::array_wrapper<V>& a, unsigned) {
    load_binary(a.address(), a.count() * sizeof(V));
  }
  struct use_array_optimization {
    template <class T>
    struct apply : public boost::serialization::is_bitwise_serializable<T> {};
  };

  template <class T>
  void load_override(T& t) {
    boost::archive::basic_binary_iarchive<iarchive>::load_override(t);
  }
  void load_override(boost::serialization::collection_size_type& t);
  void load_override(boost::archive::class_name_type& t);

 private:
  [[noreturn]] void truncated(std::size_t wanted) const;
  void check_count(std::size_t n, std::size_t element_bytes, const char* what) const;
  const std::byte* p_;
  const std::byte* end_;
};

namespace detail {
/// Numbers, which the binary archive writes as their bytes and nothing
/// else: written and read without setting up an archive, the same bytes.
/// (Not bool: reading one checks that it is 0 or 1. Not enums: the archive
/// writes them as int.)
template <class T>
inline constexpr bool archive_plain_v = std::is_arithmetic_v<T> && !std::is_same_v<std::remove_cv_t<T>, bool>;
}  // namespace detail

/// Serializes `value` (Boost.Serialization) and appends the bytes to `out`.
template <class T>
void save_to(detail::byte_buffer& out, const T& value) {
  if constexpr (detail::archive_plain_v<T>) {
    out.append(&value, sizeof value);  // the bytes the archive would write, without setting one up
  } else {
    oarchive ar(out);
    ar << value;
  }
}

/// Deserializes a T from exactly the bytes of `in`; throws deserialize_error
/// on garbage or when bytes are left over.
template <class T>
void load_from(std::span<const std::byte> in, T& value) {
  if constexpr (detail::archive_plain_v<T>) {
    if (in.size() != sizeof value)
      throw deserialize_error("garbled payload: " + std::to_string(in.size()) + " bytes for a " +
                              std::to_string(sizeof value) + "-byte number");
    std::memcpy(&value, in.data(), sizeof value);
    return;
  }
  iarchive ar(in);
  try {
    ar >> value;
  } catch (const deserialize_error&) {
    throw;
  } catch (const boost::archive::archive_exception& e) {
    throw deserialize_error(std::string("garbled payload: ") + e.what());
  } catch (const std::bad_alloc&) {
    throw deserialize_error("garbled payload: allocation failed while deserializing");
  } catch (const std::length_error& e) {
    throw deserialize_error(std::string("garbled payload: ") + e.what());
  }
  if (ar.remaining() != 0)
    throw deserialize_error("garbled payload: " + std::to_string(ar.remaining()) + " bytes left after the message");
}

}  // namespace troupe

BOOST_SERIALIZATION_REGISTER_ARCHIVE(troupe::oarchive)
BOOST_SERIALIZATION_REGISTER_ARCHIVE(troupe::iarchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(troupe::oarchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(troupe::iarchive)
