// A program in the shape the guide recommends for one process or many,
// with a `main` that takes no arguments and runs troupe twice (as a
// benchmark's rounds do). Each round starts a process with a main actor,
// talks to it by its address, and joins it. What `main` does after a
// troupe::run happens once, in this process only: a started process ends
// inside troupe::run.
#include <troupe/troupe.hpp>

#include <boost/serialization/string.hpp>
#include <cstdio>
#include <string>

struct greeting {
  std::string text;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & text;
  }
};
TROUPE_MESSAGE(greeting);

troupe::task<void> greeter(troupe::actor& self, int round) {
  auto m = co_await self.receive<greeting>();
  self.reply(m, greeting{m->text + ", from round " + std::to_string(round)});
}
TROUPE_ACTOR(greeter);

int round_of(int round) {
  return troupe::run([round](troupe::actor& self) -> troupe::task<int> {
    troupe::process p = co_await self.spawn_process(greeter, round);
    greeting hello{"hello"};  // (named: g++ 12 miscompiles braced temporaries in co_await)
    auto r = co_await self.request<greeting>(p.main_actor(), std::move(hello), std::chrono::seconds(20));
    std::printf("%s\n", r->text.c_str());
    std::vector<troupe::actor_ref> main{p.main_actor()};
    auto ended = co_await self.join_all(main);
    co_await p.join(self);
    if (ended[0].reason == troupe::exit_reason::normal && p.exitcode() == 0) co_return 0;
    std::printf("round %d: the main actor ended %s (%s), exit code %d\n", round, troupe::to_string(ended[0].reason),
                ended[0].detail.c_str(), p.exitcode().value_or(-1000));
    co_return 1;
  });
}

int main() {
  int a = round_of(1);
  int b = round_of(2);
  std::printf("done: %d %d\n", a, b);
  std::fflush(stdout);
  return a | b;
}
