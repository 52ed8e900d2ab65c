// How the shared-memory poll loop waits while no frames come: spin, then
// yield, then park on the eventfd, as Aeron's backoff strategies do, but
// adapting to what the machine does.
//
// Spinning answers a frame within a few hundred nanoseconds when the peer
// runs on another core, and parking costs a wake-up (tens of microseconds on
// a VM). But when the peer waits for this very core (more busy processes
// than cores), every microsecond spun is a microsecond the peer cannot run.
// The strategy notices that the core is contended by two signs: the loop
// lost the core while spinning (two time checks far apart), or a
// sched_yield() gave the core to another task (the thread's count of
// involuntary context switches grew). One sign alone may be a kernel worker
// or the hypervisor passing by; a few close together mean another process
// wants this core. Then the loop stops spinning and yields at once, for a
// cool-down that runs on while contention keeps showing, and doubles when
// it comes back soon after it ended.
//
// The state is per transport, not per link: contention is a property of the
// core this process runs on, whichever peer it waits for.
#pragma once

#include <algorithm>
#include <chrono>

namespace troupe::shm_detail {

enum class idle_action { spin, yield, park };

class idle_strategy {
 public:
  using clock = std::chrono::steady_clock;
  using duration = clock::duration;
  using time_point = clock::time_point;

  struct settings {
    duration spin = std::chrono::microseconds(50);   // longest spin, uncontended
    duration yield = std::chrono::microseconds(50);  // then yield this long before parking
    // A gap between two checks of a spinning loop longer than this means
    // the loop lost its core to another process (a check is a few polls
    // apart, well under 1 µs; an interrupt or the hypervisor passing by
    // takes less than this far more often than not).
    duration lost_core = std::chrono::microseconds(100);
    // This many signs within `window` mean contention.
    unsigned signs = 3;
    duration window = std::chrono::milliseconds(1);
    duration cooldown_min = std::chrono::milliseconds(2);
    duration cooldown_max = std::chrono::seconds(1);
  };

  idle_strategy() = default;
  explicit idle_strategy(const settings& s) : s_(s), cooldown_(s.cooldown_min) {}

  /// Frames moved (or the loop woke, or resumed after other work) at `now`:
  /// a new idle stretch starts.
  void on_activity(time_point now) noexcept {
    last_activity_ = now;
    last_check_ = now;
  }

  /// The loop resumes after the event loop ran other handlers: the time
  /// they took is not time the loop lost its core.
  void on_resume(time_point now) noexcept { last_check_ = now; }

  /// What to do next, `now` being a fresh reading of the clock.
  idle_action next(time_point now) noexcept {
    duration idle = now - last_activity_;
    duration spin = spin_limit(now);
    if (idle < spin) {
      if (now - last_check_ > s_.lost_core) sign(now);
      last_check_ = now;
      if (idle < spin_limit(now)) return idle_action::spin;
    }
    last_check_ = now;
    if (idle < spin_limit(now) + s_.yield) return idle_action::yield;
    return idle_action::park;
  }

  /// A sched_yield() ended at `now`; `switched`: another task ran meanwhile.
  void after_yield(bool switched, time_point now) noexcept {
    if (switched) sign(now);
    last_check_ = now;
  }

  /// How long the loop spins in the current idle stretch.
  duration spin_limit(time_point now) const noexcept {
    return now < contended_until_ ? duration::zero() : s_.spin;
  }
  bool contended(time_point now) const noexcept { return now < contended_until_; }
  duration cooldown() const noexcept { return cooldown_; }
  const settings& options() const noexcept { return s_; }

 private:
  void sign(time_point now) noexcept {
    if (now - window_start_ > s_.window) {
      window_start_ = now;
      signs_ = 0;
    }
    if (++signs_ >= s_.signs) contention(now);
  }

  void contention(time_point now) noexcept {
    if (now < contended_until_) {
      // Still contended: the cool-down runs on from now.
      contended_until_ = now + cooldown_;
      return;
    }
    // The loop spun again after a cool-down and lost its core soon after:
    // the contention lasts, so wait longer before the next try. Long
    // gone: start small.
    if (seen_ && now - contended_until_ < cooldown_)
      cooldown_ = std::min(cooldown_ * 2, s_.cooldown_max);
    else
      cooldown_ = s_.cooldown_min;
    seen_ = true;
    contended_until_ = now + cooldown_;
  }

  settings s_{};
  duration cooldown_ = std::chrono::milliseconds(2);
  bool seen_ = false;
  time_point last_activity_{};
  time_point last_check_{};
  time_point contended_until_{};
  time_point window_start_{};
  unsigned signs_ = 0;
};

}  // namespace troupe::shm_detail
