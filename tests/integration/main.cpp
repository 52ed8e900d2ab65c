// The multi-process tests' main: a worker process becomes a troupe worker
// node at once; the test process runs GoogleTest.
#include "support.hpp"

namespace itest {
int argc = 0;
char** argv = nullptr;
}  // namespace itest

int main(int argc, char** argv) {
  if (troupe::is_worker_process()) return troupe::run(argc, argv, nullptr);
  ::testing::InitGoogleTest(&argc, argv);
  itest::argc = argc;
  itest::argv = argv;
  return RUN_ALL_TESTS();
}
