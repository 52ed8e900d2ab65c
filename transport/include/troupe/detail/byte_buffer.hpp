// A growable byte buffer that does not zero what it grows into, with
// std::streambuf adapters so Boost archives can write into it and read from
// any byte span without copies.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <streambuf>

namespace troupe::detail {

class byte_buffer {
 public:
  byte_buffer() = default;
  byte_buffer(byte_buffer&&) noexcept = default;
  byte_buffer& operator=(byte_buffer&&) noexcept = default;

  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<const std::byte> span() const noexcept { return {data_.get(), size_}; }

  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    std::size_t cap = capacity_ ? capacity_ : 64;
    while (cap < n) cap *= 2;
    std::unique_ptr<std::byte[]> fresh(new std::byte[cap]);
    if (size_) std::memcpy(fresh.get(), data_.get(), size_);
    data_ = std::move(fresh);
    capacity_ = cap;
  }
  /// Grows by n bytes (uninitialized) and returns where they start.
  std::byte* extend(std::size_t n) {
    reserve(size_ + n);
    std::byte* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void append(const void* p, std::size_t n) {
    if (n) std::memcpy(extend(n), p, n);
  }
  void resize(std::size_t n) {
    reserve(n);
    size_ = n;
  }
  /// Gives memory back when a rare huge message inflated the buffer.
  void shrink_if_above(std::size_t limit) {
    if (capacity_ > limit && size_ == 0) {
      data_.reset();
      capacity_ = 0;
    }
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// std::streambuf that appends to a byte_buffer.
class buffer_sink final : public std::streambuf {
 public:
  explicit buffer_sink(byte_buffer& b) : b_(b) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    b_.append(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) {
      char ch = traits_type::to_char_type(c);
      b_.append(&ch, 1);
    }
    return traits_type::not_eof(c);
  }

 private:
  byte_buffer& b_;
};

/// Read-only std::streambuf over a byte span; knows how much is left.
class span_source final : public std::streambuf {
 public:
  explicit span_source(std::span<const std::byte> s) {
    char* p = const_cast<char*>(reinterpret_cast<const char*>(s.data()));
    setg(p, p, p + s.size());
  }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(egptr() - gptr()); }
};

}  // namespace troupe::detail
