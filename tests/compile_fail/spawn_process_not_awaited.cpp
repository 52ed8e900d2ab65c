// expect: spawn_process\(...\) must be co_awaited
#include <troupe/troupe.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](troupe::actor& self) -> troupe::task<void> {
    auto p = self.spawn_process();  // forgot co_await
    std::printf("%d\n", p.pid());
    co_return;
  });
}
