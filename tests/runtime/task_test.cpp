// task<T>: laziness, values, exceptions, nesting.
#include <troupe/task.hpp>
#include <troupe/troupe.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>

using namespace troupe;

namespace {

task<int> answer() { co_return 42; }
task<int> add(int a) { co_return a + co_await answer(); }
task<void> thrower() {
  throw std::runtime_error("inner");
  co_return;
}
task<int> catches() {
  try {
    co_await thrower();
  } catch (const std::runtime_error& e) {
    co_return 1;
  }
  co_return 0;
}
task<long> deep(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await deep(n - 1);
}

// Counts how often the one live copy is destroyed (moved-from copies own
// nothing), to see when a coroutine frame holding it is freed.
struct frame_probe {
  int* destroyed;
  explicit frame_probe(int* d) noexcept : destroyed(d) {}
  frame_probe(frame_probe&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
  frame_probe& operator=(frame_probe&&) = delete;
  ~frame_probe() {
    if (destroyed) ++*destroyed;
  }
};

template <class T>
T run_sync(task<T> t) {
  std::optional<T> out;
  auto driver = [&]() -> task<void> { out = co_await std::move(t); };
  task<void> d = driver();
  d.handle().resume();
  EXPECT_TRUE(d.done());
  return *out;
}

}  // namespace

TEST(task, is_lazy) {
  bool started = false;
  auto f = [&]() -> task<int> {
    started = true;
    co_return 1;
  };
  task<int> t = f();
  EXPECT_FALSE(started);
  EXPECT_EQ(run_sync(std::move(t)), 1);
  EXPECT_TRUE(started);
}

TEST(task, nested_values) { EXPECT_EQ(run_sync(add(1)), 43); }

TEST(task, exceptions_propagate_to_the_awaiter) { EXPECT_EQ(run_sync(catches()), 1); }

TEST(task, deep_nesting_does_not_grow_the_stack) {
  // symmetric transfer: 10k nested awaits would overflow the stack otherwise
  EXPECT_EQ(run_sync(deep(10000)), 10000);
}

TEST(task, destroying_an_unstarted_task_frees_it) {
  // A parameter lives in the coroutine frame from the call on, before the
  // body starts: its destructor runs exactly when the frame is freed.
  int destroyed = 0;
  bool ran = false;
  auto f = [&ran](frame_probe) -> task<std::string> {
    ran = true;
    co_return std::string(100, 'x');
  };
  {
    task<std::string> t = f(frame_probe(&destroyed));
    ASSERT_TRUE(t.valid());
    EXPECT_FALSE(t.done());
    EXPECT_EQ(destroyed, 0);  // the frame holds it while the task lives
  }
  EXPECT_EQ(destroyed, 1) << "destroying the task did not free its frame (or freed it twice)";
  EXPECT_FALSE(ran);  // lazy: destroyed before it ever started
}

namespace {
troupe::task<int> at_once(int x) { co_return x; }
troupe::task<int> throws_at_once(int) {
  throw std::runtime_error("no");
  co_return 0;
}
}  // namespace

TEST(task, a_loop_of_tasks_that_finish_at_once_does_not_grow_the_stack) {
  troupe::node n;
  long sum = 0, errors = 0;
  n.spawn([&](troupe::actor&) -> troupe::task<void> {
    for (int i = 0; i < 200000; ++i) {
      sum += co_await at_once(1);
      try {
        co_await throws_at_once(i);
      } catch (const std::runtime_error&) {
        ++errors;
      }
    }
  });
  EXPECT_TRUE(n.run());
  EXPECT_EQ(sum, 200000);
  EXPECT_EQ(errors, 200000);
}
