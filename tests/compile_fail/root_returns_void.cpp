// expect: it must be a coroutine
#include <troupe/troupe.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](troupe::actor&) { std::printf("hello\n"); });
}
