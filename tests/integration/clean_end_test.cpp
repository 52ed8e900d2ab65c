// Quiet, clean ends: a program whose root finishes while daemons still wait
// ends silently, as Python's does; stderr carries real failures only.
#include "support.hpp"

#include <troupe/actors.hpp>

#include <fcntl.h>
#include <fstream>
#include <sstream>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

// What this process and its children write to stderr while `f` runs.
template <class F>
std::string stderr_of(F&& f) {
  std::string path = "/tmp/troupe-stderr-" + std::to_string(::getpid());
  std::fflush(stderr);
  int saved = ::dup(2);
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  ::dup2(fd, 2);
  ::close(fd);
  f();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  ::unlink(path.c_str());
  return s.str();
}

// The lecture's JoinableQueue consumer: a daemon that takes items for ever.
task<void> jq_consumer(actor& self, joinable_queue<int> q, actor_ref tally) {
  for (;;) {
    int x = co_await q.get(self);
    self.send(tally, seq{0, static_cast<std::uint64_t>(x)});
    q.task_done(self);
  }
}
TROUPE_ACTOR(jq_consumer);

}  // namespace

TEST_F(process_test, a_daemon_blocked_on_a_queue_ends_silently_with_its_program) {
  std::uint64_t sum = 0;
  int code = -1;
  std::string err = stderr_of([&] {
    code = run_program([&](actor& self) -> task<void> {
      auto q = make_joinable_queue<int>(self);
      actor_ref tally = self.spawn([&sum](actor& me) -> task<void> {
        for (;;) sum += (co_await me.receive<seq>())->n;
      });
      process_options o;
      o.daemon = true;
      process c = co_await self.spawn_process(o, jq_consumer, q, tally);
      for (int i = 1; i <= 100; ++i) co_await q.put(self, i);
      co_await q.join(self);
      co_await self.yield();  // the tally, made ready before the join returned, takes the last ones
    });
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(sum, 5050u);
  EXPECT_EQ(err.find("failed"), std::string::npos) << err;
  EXPECT_EQ(err.find("error"), std::string::npos) << err;
}
