// Messages as an actor receives them: `message` holds any type, `received<T>`
// a known one. Both own their envelope and know who sent it.
#pragma once

#include <troupe/message_type.hpp>
#include <troupe/transport/frame.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace troupe {

/// Thrown by message::get<T> when the message holds another type.
class bad_message_cast : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class message {
 public:
  message() noexcept = default;
  explicit message(detail::envelope* e) noexcept : e_(e) {}
  message(message&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  message& operator=(message&& o) noexcept {
    if (this != &o) {
      reset();
      e_ = std::exchange(o.e_, nullptr);
    }
    return *this;
  }
  ~message() { reset(); }

  explicit operator bool() const noexcept { return e_ != nullptr; }

  type_id type() const noexcept { return e_->type->id; }
  std::string_view type_name() const noexcept { return e_->type->name; }
  actor_ref sender() const noexcept { return e_->sender; }
  bool is_request() const noexcept { return (e_->flags & frame_flags::request) != 0; }
  std::uint64_t correlation() const noexcept { return e_->correlation; }

  template <class T>
  bool is() const noexcept {
    return e_ && e_->type->id == message_type_of<T>().id;
  }
  template <class T>
  T* get_if() noexcept {
    return is<T>() ? &static_cast<detail::typed_envelope<T>*>(e_)->value : nullptr;
  }
  template <class T>
  const T* get_if() const noexcept {
    return is<T>() ? &static_cast<const detail::typed_envelope<T>*>(e_)->value : nullptr;
  }
  template <class T>
  T& get() {
    if (T* p = get_if<T>()) return *p;
    throw bad_message_cast(std::string("message holds ") + (e_ ? std::string(e_->type->name) : "nothing") +
                           ", not " + std::string(message_traits<T>::name));
  }
  template <class T>
  const T& get() const {
    return const_cast<message*>(this)->get<T>();
  }

  void reset() noexcept {
    if (e_) e_->type->destroy(std::exchange(e_, nullptr));
  }
  detail::envelope* release() noexcept { return std::exchange(e_, nullptr); }
  detail::envelope* envelope() const noexcept { return e_; }

 private:
  detail::envelope* e_ = nullptr;
};

/// A message of a known type T: `m->field`, `*m`, `m.sender()`.
template <class T>
class received {
 public:
  received() noexcept = default;
  explicit received(message m) noexcept : m_(std::move(m)) {}

  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }
  T& operator*() noexcept { return value(); }
  const T& operator*() const noexcept { return value(); }
  T& value() noexcept { return static_cast<detail::typed_envelope<T>*>(m_.envelope())->value; }
  const T& value() const noexcept { return static_cast<const detail::typed_envelope<T>*>(m_.envelope())->value; }

  actor_ref sender() const noexcept { return m_.sender(); }
  bool is_request() const noexcept { return m_.is_request(); }
  const message& raw() const noexcept { return m_; }
  message& raw() noexcept { return m_; }
  explicit operator bool() const noexcept { return static_cast<bool>(m_); }

 private:
  message m_;
};

}  // namespace troupe
