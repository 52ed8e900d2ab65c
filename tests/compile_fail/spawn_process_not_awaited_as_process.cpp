// expect: spawn_process\(...\) must be co_awaited
#include <troupe/troupe.hpp>

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](troupe::actor& self) -> troupe::task<void> {
    troupe::process p = self.spawn_process();  // forgot co_await
    p.terminate();
    co_return;
  });
}
