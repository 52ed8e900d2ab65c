#include <troupe/detail/envelope.hpp>
#include <troupe/detail/reply_table.hpp>
#include <troupe/message_type.hpp>

#include <algorithm>

namespace troupe::detail {
namespace {

void destroy(envelope* e) noexcept {
  if (e) e->type->destroy(e);
}

}  // namespace

reply_table::entry* reply_table::find(std::uint64_t correlation) const noexcept {
  if (head_ == entries_.size()) return nullptr;
  entry* last = &entries_.back();
  if (last->correlation == correlation) return last->live ? last : nullptr;  // the usual case: the newest request
  auto first = entries_.begin() + static_cast<std::ptrdiff_t>(head_);
  auto it = std::lower_bound(first, entries_.end(), correlation,
                             [](const entry& e, std::uint64_t c) { return e.correlation < c; });
  if (it == entries_.end() || it->correlation != correlation || !it->live) return nullptr;
  return &*it;
}

bool reply_table::keep(std::uint64_t correlation, envelope* reply) noexcept {
  entry* e = find(correlation);
  if (!e) return false;
  destroy(e->reply);  // a second answer to one request: the newest wins
  e->reply = reply;
  return true;
}

envelope* reply_table::take(std::uint64_t correlation) noexcept {
  entry* e = find(correlation);
  if (!e) return nullptr;
  envelope* r = e->reply;
  e->reply = nullptr;
  return r;
}

void reply_table::remove(std::uint64_t correlation) noexcept {
  entry* e = find(correlation);
  if (!e) return;
  destroy(e->reply);
  e->reply = nullptr;
  e->live = false;
  ++dead_;
  while (!entries_.empty() && entries_.size() > head_ && !entries_.back().live) {
    entries_.pop_back();
    --dead_;
  }
  while (head_ < entries_.size() && !entries_[head_].live) {
    ++head_;
    --dead_;
  }
  if (head_ == entries_.size()) {
    entries_.clear();
    head_ = 0;
  } else if (head_ + dead_ > 32 && head_ + dead_ > size()) {
    compact();
  }
}

void reply_table::compact() noexcept {
  auto first = entries_.begin() + static_cast<std::ptrdiff_t>(head_);
  auto end = std::remove_if(first, entries_.end(), [](const entry& e) { return !e.live; });
  if (head_ > 0) end = std::move(first, end, entries_.begin());
  entries_.erase(end, entries_.end());
  head_ = 0;
  dead_ = 0;
}

void reply_table::clear() noexcept {
  for (std::size_t i = head_; i < entries_.size(); ++i) destroy(entries_[i].reply);
  entries_.clear();
  head_ = 0;
  dead_ = 0;
}

}  // namespace troupe::detail
