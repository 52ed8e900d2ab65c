// Built against the installed package: an actor in a child process answers
// a request.
#include <troupe/troupe.hpp>

#include <chrono>
#include <cstdio>

struct ask {
  int n = 0;
};
struct answer {
  int n = 0;
};
TROUPE_MESSAGE(ask);
TROUPE_MESSAGE(answer);

troupe::task<void> doubler(troupe::actor& self) {
  for (;;) {
    troupe::message m = co_await self.receive();
    if (const ask* a = m.get_if<ask>()) self.reply(m, answer{a->n * 2});
  }
}
TROUPE_ACTOR(doubler);

troupe::task<void> idle(troupe::actor& self) {
  for (;;) (void)co_await self.receive();
}
TROUPE_ACTOR(idle);

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](troupe::actor& self) -> troupe::task<void> {
    troupe::process p = co_await self.spawn_process(idle);
    troupe::actor_ref d = co_await self.spawn(p.node(), doubler);
    auto r = co_await self.request<answer>(d, ask{21}, std::chrono::seconds(10));
    p.terminate();
    std::printf("answer %d\n", r->n);
  });
}
