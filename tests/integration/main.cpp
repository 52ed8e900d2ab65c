// The multi-process tests' main: a worker process becomes a troupe worker
// node at once; the test process runs GoogleTest.
#include "support.hpp"

namespace itest {
int argc = 0;
char** argv = nullptr;
std::atomic<int> custom_transport_connects{0};

// A transport of the program's own, registered for every node troupe::run
// starts: it reaches nobody (so shared memory and TCP carry the traffic),
// and counts how often the router asked it.
class counting_transport final : public troupe::transport {
 public:
  std::string_view name() const noexcept override { return "counting"; }
  void start(troupe::transport_host&) override {}
  void stop() override {}
  bool connect(troupe::node_id) override {
    ++custom_transport_connects;
    return false;
  }
};
}  // namespace itest

int main(int argc, char** argv) {
  troupe::register_transport([] { return std::make_unique<itest::counting_transport>(); });
  if (troupe::is_worker_process()) return troupe::run(argc, argv, nullptr);
  ::testing::InitGoogleTest(&argc, argv);
  itest::argc = argc;
  itest::argv = argv;
  return RUN_ALL_TESTS();
}
