// The natural forms inside a co_await expression: braced temporaries that
// own memory, designated option structs, `?:` and initializer lists. They
// work with clang; g++ 12 miscompiles or refuses them (docs/guide.md,
// "Compiler pitfalls"), so there these tests are skipped.
#include "support.hpp"

#include <troupe/actors.hpp>

#include <cstdlib>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

#if defined(__clang__) || !defined(__GNUC__) || __GNUC__ >= 13
#define TROUPE_NATURAL_CO_AWAIT 1
#endif

namespace {

// An aggregate that owns heap memory (a long string, a vector).
struct job {
  std::uint64_t n = 0;
  std::string text;
  std::vector<int> values;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & n & text & values;
  }
};

}  // namespace

TROUPE_MESSAGE(job);

namespace {

const std::string long_text = "a string well beyond the small-string buffer of any library";

int forms_square(int x) { return x * x; }
TROUPE_TASK(forms_square);

task<void> job_echo(actor& self) {
  for (;;) {
    auto m = co_await self.receive<job>();
    job j = *m;
    j.text += "!";
    self.reply(m, std::move(j));
  }
}
TROUPE_ACTOR(job_echo);

task<void> job_sink(actor& self, actor_ref report, std::uint64_t count) {
  std::uint64_t sum = 0;
  bool intact = true;
  for (std::uint64_t i = 0; i < count; ++i) {
    auto m = co_await self.receive<job>();
    sum += m->n;
    intact = intact && m->text == long_text && m->values == std::vector<int>{1, 2, 3};
  }
  self.send(report, note{std::to_string(sum) + (intact ? " intact" : " corrupted")});
}
TROUPE_ACTOR(job_sink);

// Reports an environment variable.
task<void> env_reporter(actor& self, actor_ref report) {
  const char* v = std::getenv("TROUPE_FORMS_TEST");
  self.send(report, note{v ? v : "(not set)"});
  co_return;
}
TROUPE_ACTOR(env_reporter);

}  // namespace

#ifdef TROUPE_NATURAL_CO_AWAIT

TEST_F(process_test, braced_temporaries_that_own_memory_travel_inside_co_await) {
  std::string text;
  std::vector<int> values;
  int code = run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref e = co_await self.spawn(p, job_echo);
    auto r = co_await self.request<job>(e, job{7, long_text, {1, 2, 3}}, 10s);  // braced, owning
    text = r->text;
    values = r->values;
    auto local = self.spawn(job_echo);
    auto r2 = co_await self.request<job>(local, job{8, long_text, {4}}, 10s);
    EXPECT_EQ(r2->text, long_text + "!");
    p.terminate();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(text, long_text + "!");
  EXPECT_EQ(values, (std::vector<int>{1, 2, 3}));
}

TEST_F(process_test, designated_option_structs_inside_co_await_own_their_strings_and_lists) {
  std::string reported;
  int code = run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process(
        {.name = "a process name longer than any small-string buffer", .env = {{"TROUPE_FORMS_TEST", long_text}}},
        env_reporter, self.ref());
    EXPECT_EQ(p.name(), "a process name longer than any small-string buffer");
    auto m = co_await self.receive<note>();
    reported = m->text;
    co_await p.join(self);
    process host = co_await self.spawn_process();
    pool workers = co_await pool::start(self, {.processes = 0, .nodes = {host.node()}});
    auto squares = co_await workers.map(self, forms_square, std::vector<int>{1, 2, 3});  // an initializer list
    EXPECT_EQ(squares, (std::vector<int>{1, 4, 9}));
    workers.close(self);
    co_await workers.join(self);
    host.terminate();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(reported, long_text);
}

TEST_F(process_test, a_conditional_inside_co_await_evaluates_one_arm) {
  int made = 0;
  std::string got;
  int code = run_program([&](actor& self) -> task<void> {
    auto e = self.spawn(job_echo);
    auto next_job = [&] {
      ++made;
      return job{2, "next", {}};
    };
    job last{1, long_text, {5}};
    bool retry = true;
    auto r = co_await self.request<job>(e, retry ? last : next_job(), 10s);
    got = r->text;
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(made, 0);
  EXPECT_EQ(got, long_text + "!");
}

TEST_F(process_test, request_awaiters_in_a_vector_are_awaited_in_place) {
  std::vector<std::uint64_t> got;
  int code = run_program([&](actor& self) -> task<void> {
    auto e = self.spawn(job_echo);
    std::vector<request_awaiter<job>> v;
    for (std::uint64_t i = 0; i < 3; ++i) v.push_back(self.request<job>(e, job{i, "x", {}}, 10s));
    for (std::size_t i = v.size(); i-- > 0;) {
      auto r = co_await v[i];  // an lvalue element, not moved
      got.push_back(r->n);
    }
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{2, 1, 0}));
}

TEST_F(process_test, awaited_sends_and_queue_puts_of_braced_temporaries_arrive_intact) {
  constexpr std::uint64_t count = 50'000;
  std::string report, queued;
  int code = run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref sink = co_await self.spawn(p, job_sink, self.ref(), count);
    for (std::uint64_t i = 1; i <= count; ++i) co_await self.send(sink, job{i, long_text, {1, 2, 3}});
    auto m = co_await self.receive<note>();
    report = m->text;
    auto q = make_queue<job>(self, 4);
    for (std::uint64_t i = 0; i < 3; ++i) co_await q.put(self, job{i, long_text, {int(i)}});
    job j = co_await q.get(self);
    queued = j.text;
    p.terminate();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(report, std::to_string(count * (count + 1) / 2) + " intact");
  EXPECT_EQ(queued, long_text);
}

#else

TEST(co_await_forms, skipped_on_gcc_12) {
  GTEST_SKIP() << "g++ 12 miscompiles these forms (docs/guide.md, \"Compiler pitfalls\")";
}

#endif
