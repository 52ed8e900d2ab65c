// troupe::run: exit codes of a program.
#include "test_messages.hpp"

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;

namespace {
char arg0[] = "test";
char* argv[] = {arg0, nullptr};
}  // namespace

TEST(run, normal_end_is_zero) {
  EXPECT_EQ(troupe::run(1, argv, [](actor&) -> task<void> { co_return; }), 0);
}

TEST(run, the_root_may_choose_the_code) {
  EXPECT_EQ(troupe::run(1, argv, [](actor&) -> task<int> { co_return 7; }), 7);
}

TEST(run, exception_in_the_root_is_one) {
  EXPECT_EQ(troupe::run(1, argv,
                        [](actor&) -> task<void> {
                          throw std::runtime_error("bad");
                          co_return;
                        }),
            1);
}

TEST(run, other_actors_are_shut_down_when_the_root_ends) {
  bool unwound = false;
  int code = troupe::run(1, argv, [&](actor& self) -> task<void> {
    self.spawn([&](actor& s) -> task<void> {
      try {
        co_await s.receive<stop>();
      } catch (const actor_shutdown&) {
        unwound = true;
        throw;
      }
    });
    co_await self.yield();
  });
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(unwound);
}

TEST(run, deadlock_is_two) {
  EXPECT_EQ(troupe::run(1, argv, [](actor& self) -> task<void> { co_await self.receive<stop>(); }), 2);
}
