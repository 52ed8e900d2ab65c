// expect: declare it at global scope with TROUPE_MESSAGE
#include <troupe/troupe.hpp>

struct job {
  int n = 0;
};

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](troupe::actor& self) -> troupe::task<void> {
    self.send(self.ref(), job{1});
    co_return;
  });
}
