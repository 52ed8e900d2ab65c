// expect: declare it at global scope with TROUPE_MESSAGE
#include <troupe/troupe.hpp>

struct ask {
  int n = 0;
};
struct answer {
  int n = 0;
};
TROUPE_MESSAGE(ask);

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](troupe::actor& self) -> troupe::task<void> {
    auto r = co_await self.request<answer>(self.ref(), ask{1}, std::chrono::seconds(1));
    (void)r;
  });
}
