// expect: (does not return a value|no return statement)
#include <troupe/troupe.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](troupe::actor&) -> troupe::task<void> {
    std::printf("hello\n");  // no co_await, no co_return: not a coroutine
  });
}
