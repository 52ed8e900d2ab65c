// The requests an actor has sent and not yet seen answered: each reply is
// kept here until its await takes it, whatever the order of the awaits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace troupe::detail {

struct envelope;

class reply_table {
 public:
  reply_table() = default;
  reply_table(const reply_table&) = delete;
  reply_table& operator=(const reply_table&) = delete;
  ~reply_table() { clear(); }

  /// A new request. Correlation ids grow with every request of a node, so
  /// entries stay sorted by appending.
  void add(std::uint64_t correlation) { entries_.push_back({correlation, nullptr, true}); }
  /// Keeps the reply to `correlation`; false (and nothing kept) when that
  /// request is not outstanding (answered, abandoned, timed out).
  bool keep(std::uint64_t correlation, envelope* reply) noexcept;
  /// The reply kept for `correlation`, handed over (null if none came yet).
  envelope* take(std::uint64_t correlation) noexcept;
  /// The request is over (answered, timed out, or its awaiter gone); a
  /// reply kept for it is destroyed.
  void remove(std::uint64_t correlation) noexcept;
  std::size_t size() const noexcept { return entries_.size() - head_ - dead_; }
  /// Destroys every kept reply (the actor ends).
  void clear() noexcept;

 private:
  struct entry {
    std::uint64_t correlation;
    envelope* reply;
    bool live;
  };
  entry* find(std::uint64_t correlation) const noexcept;
  void compact() noexcept;

  // Entries before head_ are gone; removed ones further in stay as dead
  // entries (keeping the order) until they reach an end or outnumber the live.
  mutable std::vector<entry> entries_;
  std::size_t head_ = 0;
  std::size_t dead_ = 0;
};

}  // namespace troupe::detail
