// expect: must be a function registered with TROUPE_ACTOR
#include <troupe/troupe.hpp>

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](troupe::actor& self) -> troupe::task<void> {
    troupe::process p = co_await self.spawn_process([](troupe::actor&) -> troupe::task<void> { co_return; });
    (void)p;
  });
}
