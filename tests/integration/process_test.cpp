// Processes: start, remote spawn, join, terminate, kill, exit codes, daemons.
#include "support.hpp"

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace {

task<void> echo(actor& self) {
  for (;;) {
    auto m = co_await self.receive<note>();
    self.reply(m, note{"echo: " + m->text});
  }
}
TROUPE_ACTOR(echo);

task<void> sleeper(actor& self, int seconds) { co_await self.sleep_for(std::chrono::seconds(seconds)); }
TROUPE_ACTOR(sleeper);

task<void> failing_main(actor&) {
  throw std::runtime_error("main failed on purpose");
  co_return;
}
TROUPE_ACTOR(failing_main);

task<void> exiting_main(actor&, int code) {
  throw process_exit{code};
  co_return;
}
TROUPE_ACTOR(exiting_main);

task<void> quick_main(actor&) { co_return; }
TROUPE_ACTOR(quick_main);

task<void> named_echo(actor& self, std::string name) {
  self.register_name(name);
  co_await echo(self);
}
TROUPE_ACTOR(named_echo);

// Forwards each request to `target` and relays the answer back.
task<void> relay_to(actor& self, actor_ref target) {
  for (;;) {
    auto m = co_await self.receive<note>();
    note fwd{m->text};
    auto r = co_await self.request<note>(target, std::move(fwd), std::chrono::seconds(10));
    self.reply(m, note{r->text});
  }
}
TROUPE_ACTOR(relay_to);

// Starts a daemonic child and reports its pid, then waits to be killed.
task<void> daemon_parent(actor& self, actor_ref report) {
  process_options o{.name = "daemon", .daemon = true};
  process d = co_await self.spawn_process(std::move(o));
  self.send(report, note{std::to_string(d.pid())});
  co_await self.sleep_for(60s);
}
TROUPE_ACTOR(daemon_parent);

// A main actor that answers `count` notes, then ends (or fails).
task<void> counted_echo(actor& self, int count, bool fail_at_end) {
  for (int i = 0; i < count; ++i) {
    auto m = co_await self.receive<note>();
    self.reply(m, note{"main: " + m->text});
  }
  if (fail_at_end) throw std::runtime_error("the main actor gave up");
}
TROUPE_ACTOR(counted_echo);

}  // namespace

// The main actor's address comes with the process, in the same await:
// messages sent to it at once reach it (no hello message needed).
TEST_F(process_test, the_main_actor_of_a_process_is_addressed_at_once) {
  std::vector<std::string> replies;
  actor_ref main, none;
  node_ref where;
  int code = run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process(counted_echo, 3, false);
    main = p.main_actor();
    where = p.node();
    // sent before the child may have joined, and before its main has run
    for (int i = 0; i < 3; ++i) self.send(main, note{std::to_string(i)});
    for (int i = 0; i < 3; ++i) {
      auto r = co_await self.receive<note>(20s);
      if (!r) break;
      EXPECT_EQ(r.sender(), main);
      replies.push_back(r->text);
    }
    EXPECT_TRUE(co_await p.join(self, 20s));
    EXPECT_EQ(p.exitcode(), 0);
    process plain = co_await self.spawn_process();
    none = plain.main_actor();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(replies, (std::vector<std::string>{"main: 0", "main: 1", "main: 2"}));
  EXPECT_EQ(main.node, where.id);
  EXPECT_FALSE(none);  // a process without a main actor has no main address
}

TEST_F(process_test, requests_and_monitors_reach_the_main_actor) {
  std::string reply;
  std::optional<down> ended;
  std::optional<int> exitcode;
  int code = run_program([&](actor& self) -> task<void> {
    process_options o{.name = "main-host"};
    process p = co_await self.spawn_process(std::move(o), counted_echo, 1, true);
    self.monitor(p.main_actor());
    note q{"ask"};
    auto r = co_await self.request<note>(p.main_actor(), std::move(q), 20s);
    reply = r->text;
    if (auto d = co_await self.receive<down>(20s)) ended = *d;
    co_await p.join(self, 20s);
    exitcode = p.exitcode();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(reply, "main: ask");
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason, exit_reason::error);
  EXPECT_NE(ended->detail.find("the main actor gave up"), std::string::npos) << ended->detail;
  EXPECT_EQ(exitcode, 1);
}

// Joined after its process has gone, a main actor is reported by its exit
// status: code 0 is a normal end, another code an error, a signal unreachable.
TEST_F(process_test, a_main_actor_joined_after_its_process_exited_is_reported_by_its_exit_code) {
  std::vector<down> downs;
  int code = run_program([&](actor& self) -> task<void> {
    process ok = co_await self.spawn_process(quick_main);
    process bad = co_await self.spawn_process(failing_main);
    process killed = co_await self.spawn_process(sleeper, 60);
    killed.kill();
    for (process* p : {&ok, &bad, &killed}) EXPECT_TRUE(co_await p->join(self, 20s));
    std::vector<actor_ref> mains{ok.main_actor(), bad.main_actor(), killed.main_actor()};
    downs = co_await self.join_all(mains);
  });
  EXPECT_EQ(code, 0);
  ASSERT_EQ(downs.size(), 3u);
  EXPECT_EQ(downs[0].reason, exit_reason::normal) << downs[0].detail;
  EXPECT_EQ(downs[1].reason, exit_reason::error) << downs[1].detail;
  EXPECT_NE(downs[1].detail.find("exited with code 1"), std::string::npos) << downs[1].detail;
  EXPECT_EQ(downs[2].reason, exit_reason::unreachable) << downs[2].detail;
  EXPECT_NE(downs[2].detail.find("SIGKILL"), std::string::npos) << downs[2].detail;
}

// join_all across processes: main actors and actors started remotely, one
// of them in a process that is killed.
TEST_F(process_test, join_all_waits_for_actors_of_other_processes) {
  std::vector<down> downs;
  int code = run_program([&](actor& self) -> task<void> {
    process a = co_await self.spawn_process(counted_echo, 1, false);
    process b = co_await self.spawn_process(sleeper, 60);
    process c = co_await self.spawn_process();
    actor_ref in_c = co_await self.spawn(c, counted_echo, 1, false);
    std::vector<actor_ref> all{a.main_actor(), b.main_actor(), in_c};
    auto not_yet = co_await self.join_all(all, 100ms);
    EXPECT_FALSE(not_yet);  // nobody has ended
    self.send(a.main_actor(), note{"one"});
    self.send(in_c, note{"two"});
    b.kill();
    downs = co_await self.join_all(all);
  });
  EXPECT_EQ(code, 0);
  ASSERT_EQ(downs.size(), 3u);
  EXPECT_EQ(downs[0].reason, exit_reason::normal);
  EXPECT_EQ(downs[1].reason, exit_reason::unreachable) << downs[1].detail;
  EXPECT_EQ(downs[2].reason, exit_reason::normal);
}

// A process with a main actor is returned before it has joined (as
// Python's start() returns): what is sent to its node meanwhile waits for
// its link rather than fail as unreachable.
TEST_F(process_test, an_actor_started_on_a_process_that_has_not_joined_yet_answers) {
  std::string reply;
  int code = run_program([&](actor& self) -> task<void> {
    process_options o{.name = "late-joiner", .daemon = true};
    process p = co_await self.spawn_process(std::move(o), sleeper, 60);
    actor_ref e = co_await self.spawn(p.node(), echo);
    note q{"early"};
    auto r = co_await self.request<note>(e, std::move(q), 10s);
    reply = r->text;
    p.kill();
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(reply, "echo: early");
}

TEST_F(process_test, a_child_process_runs_a_remote_actor_and_answers_requests) {
  std::string reply;
  pid_t child_pid = 0;
  int code = run_program([&](actor& self) -> task<void> {
    process_options p_opts{.name = "echo-host"};
    process p = co_await self.spawn_process(std::move(p_opts));
    EXPECT_TRUE(p.is_alive());
    EXPECT_EQ(p.name(), "echo-host");
    EXPECT_NE(p.pid(), ::getpid());
    child_pid = p.pid();
    actor_ref e = co_await self.spawn(p, echo);
    EXPECT_EQ(e.node, p.node().id);
    note q{"hello"};
    auto r = co_await self.request<note>(e, std::move(q), 10s);
    reply = r->text;
    EXPECT_EQ(r.sender(), e);
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(reply, "echo: hello");
  EXPECT_TRUE(process_gone(child_pid));  // a serving child is stopped when the program ends
}

TEST_F(process_test, exit_codes_follow_python) {
  std::vector<std::optional<int>> codes;
  run_program([&](actor& self) -> task<void> {
    process ok = co_await self.spawn_process(quick_main);
    process bad = co_await self.spawn_process(failing_main);
    process seven = co_await self.spawn_process(exiting_main, 7);
    process killed = co_await self.spawn_process(sleeper, 60);
    process terminated = co_await self.spawn_process();
    killed.kill();
    terminated.terminate();
    for (process* p : {&ok, &bad, &seven, &killed, &terminated}) {
      EXPECT_TRUE(co_await p->join(self));
      codes.push_back(p->exitcode());
      EXPECT_FALSE(p->is_alive());
    }
  });
  ASSERT_EQ(codes.size(), 5u);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 1);
  EXPECT_EQ(codes[2], 7);
  EXPECT_EQ(codes[3], -SIGKILL);
  EXPECT_EQ(codes[4], -SIGTERM);
}

TEST_F(process_test, join_times_out_while_the_process_runs) {
  bool first = true, second = false;
  std::optional<int> code;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process(sleeper, 60);
    first = co_await p.join(self, 50ms);
    EXPECT_FALSE(p.exitcode().has_value());
    p.terminate();  // graceful: the sleeping actor sees actor_shutdown
    second = co_await p.join(self, 20s);
    code = p.exitcode();
  });
  EXPECT_FALSE(first);
  EXPECT_TRUE(second);
  EXPECT_EQ(code, -SIGTERM);
}

TEST_F(process_test, killing_a_child_gives_down_with_the_signal_and_the_parent_goes_on) {
  std::optional<down> d;
  std::string after;
  run_program([&](actor& self) -> task<void> {
    process_options p_opts{.name = "victim"};
    process p = co_await self.spawn_process(std::move(p_opts));
    actor_ref e = co_await self.spawn(p, echo);
    self.monitor(e);
    p.kill();
    auto m = co_await self.receive<down>(20s);
    if (m) d = *m;
    // The node goes on: a new process works.
    process q = co_await self.spawn_process();
    actor_ref e2 = co_await self.spawn(q, echo);
    note n{"still here"};
    auto r = co_await self.request<note>(e2, std::move(n), 10s);
    after = r->text;
  });
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, exit_reason::unreachable);
  EXPECT_NE(d->detail.find("killed by signal 9"), std::string::npos) << d->detail;
  EXPECT_NE(d->detail.find("victim"), std::string::npos) << d->detail;
  EXPECT_EQ(after, "echo: still here");
}

TEST_F(process_test, a_request_to_an_actor_in_a_killed_process_fails_instead_of_hanging) {
  std::optional<request_errc> code;
  run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process();
    actor_ref s = co_await self.spawn(p, sleeper, 60);  // never answers
    self.spawn([p](actor& killer) -> task<void> {
      co_await killer.sleep_for(20ms);
      p.kill();
    });
    try {
      note n{"anyone?"};
      co_await self.request<note>(s, std::move(n), 60s);
    } catch (const request_error& e) {
      code = e.code();
    }
  });
  EXPECT_EQ(code, request_errc::unreachable);
}

TEST_F(process_test, daemonic_children_die_with_a_parent_killed_by_sigkill) {
  pid_t daemon_pid = 0;
  run_program([&](actor& self) -> task<void> {
    process_options parent_opts{.name = "middle"};
    process parent = co_await self.spawn_process(std::move(parent_opts), daemon_parent, self.ref());
    auto m = co_await self.receive<note>(20s);
    if (!m) co_return;
    daemon_pid = static_cast<pid_t>(std::stol(m->text));
    parent.kill();
    co_await parent.join(self);
  });
  ASSERT_GT(daemon_pid, 0);
  EXPECT_TRUE(eventually([&] { return process_gone(daemon_pid); }));
}

TEST_F(process_test, the_program_waits_for_a_non_daemonic_main_to_finish) {
  pid_t pid = 0;
  int code = run_program([&](actor& self) -> task<void> {
    process p = co_await self.spawn_process(sleeper, 1);
    pid = p.pid();
  });  // returns only after the child's main ended
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(process_gone(pid));
}

TEST_F(process_test, names_registered_in_a_child_are_found_from_the_parent) {
  std::optional<actor_ref> found;
  actor_ref started;
  std::string reply;
  bool gone_after_exit = false;
  run_program([&](actor& self) -> task<void> {
    EXPECT_FALSE(co_await self.lookup("the-echo", 2s));
    process p = co_await self.spawn_process();
    started = co_await self.spawn(p, named_echo, std::string("the-echo"));
    for (int i = 0; i < 2000 && !found; ++i) {
      found = co_await self.lookup("the-echo", 2s);
      if (!found) co_await self.sleep_for(1ms);
    }
    if (!found) co_return;
    note n{"by name"};
    auto r = co_await self.request<note>(*found, std::move(n), 10s);
    reply = r->text;
    p.kill();
    co_await p.join(self);
    gone_after_exit = !(co_await self.lookup("the-echo", 2s));
  });
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, started);
  EXPECT_EQ(reply, "echo: by name");
  EXPECT_TRUE(gone_after_exit);
}

TEST_F(process_test, grandchildren_reach_the_root_and_each_other) {
  std::string reply;
  run_program([&](actor& self) -> task<void> {
    process_options a_opts{.name = "a"};
    process a = co_await self.spawn_process(std::move(a_opts));
    process_options b_opts{.name = "b"};
    process b = co_await self.spawn_process(std::move(b_opts));
    actor_ref eb = co_await self.spawn(b, echo);
    // a relay in process a talks to the echo in process b: a sibling link
    actor_ref relay = co_await self.spawn(a, relay_to, eb);
    note n{"via a sibling"};
    auto r = co_await self.request<note>(relay, std::move(n), 10s);
    reply = r->text;
  });
  EXPECT_EQ(reply, "echo: via a sibling");
}

TEST_F(process_test, transports_registered_by_the_program_are_tried_first) {
  int before = custom_transport_connects.load();
  std::optional<request_errc> code;
  run_program([&](actor& self) -> task<void> {
    try {
      note n{"hello?"};
      co_await self.request<note>(actor_ref{0x123456789abcull, 1}, std::move(n), 5s);
    } catch (const request_error& e) {
      code = e.code();
    }
  });
  EXPECT_GT(custom_transport_connects.load(), before);  // asked first, declined
  EXPECT_EQ(code, request_errc::unreachable);           // then nobody else could reach it either
}
