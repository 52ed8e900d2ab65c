// troupe's clock, and deadlines that any duration can name: a wait of
// duration::max() means "for ever", never an overflow.
#pragma once

#include <chrono>

namespace troupe {

using clock = std::chrono::steady_clock;
using duration = clock::duration;

/// `now + d`, saturated: a negative or zero `d` is `now`, and a sum past the
/// clock's range is time_point::max() (no deadline at all).
constexpr clock::time_point deadline_after(clock::time_point now, duration d) noexcept {
  if (d <= duration::zero()) return now;
  if (d >= clock::time_point::max() - now) return clock::time_point::max();
  return now + d;
}

}  // namespace troupe
