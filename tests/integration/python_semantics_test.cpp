// Python's documented multiprocessing behaviour, checked against troupe's
// pool, queue, joinable_queue and pipe, across real processes. Where troupe
// deliberately differs, the test checks what docs/multiprocessing.md says.
// No test asserts a duration: a wait that must not end is checked by
// waiting a little and seeing that it did not, a wait that must end is
// bounded only against hangs.
#include "support.hpp"

#include <troupe/actors.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

using namespace troupe;
using namespace itest;
using namespace std::chrono_literals;

namespace pysem {
/// A task's own exception type: its name comes back with the error.
struct custom_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// One the program registers: it comes back as itself.
struct registered_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace pysem

TROUPE_EXCEPTION(pysem::registered_error);

namespace {

// --- pool tasks (names unique in the test binary) ----------------------------------

long py_square(long x) { return x * x; }
TROUPE_TASK(py_square);

int py_double(int x) { return 2 * x; }
TROUPE_TASK(py_double);

int py_length(std::string s) { return static_cast<int>(s.size()); }
TROUPE_TASK(py_length);

int py_pid(int) { return static_cast<int>(::getpid()); }
TROUPE_TASK(py_pid);

int py_fails_on_three(int x) {
  if (x == 3) throw std::runtime_error("three is not allowed");
  return x;
}
TROUPE_TASK(py_fails_on_three);

int py_out_of_range(int x) { throw std::out_of_range("index " + std::to_string(x) + " is out of range"); }
TROUPE_TASK(py_out_of_range);

int py_custom_error(int) { throw pysem::custom_error("custom failure"); }
TROUPE_TASK(py_custom_error);

int py_throws_int(int) { throw 42; }
TROUPE_TASK(py_throws_int);

int py_registered_on_three(int x) {
  if (x == 3) throw pysem::registered_error("no room for " + std::to_string(x));
  return x;
}
TROUPE_TASK(py_registered_on_three);

// Blocks its worker until `path` exists (at most a minute): a task that
// cannot finish before the test lets it.
int py_wait_for_file(std::string path) {
  for (int i = 0; i < 60000; ++i) {
    if (::access(path.c_str(), F_OK) == 0) return 7;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  throw std::runtime_error("gave up waiting for " + path);
}
TROUPE_TASK(py_wait_for_file);

long py_slow(long x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return x;
}
TROUPE_TASK(py_slow);

// --- input ranges -----------------------------------------------------------------

// Item i of a range that raises at item 5, as a Python generator would.
long item_or_raise(int i) {
  if (i == 5) throw std::out_of_range("no item 5");
  return i;
}
std::tuple<long> tuple_or_raise(int i) {
  if (i == 2) throw std::out_of_range("no tuple 2");
  return {i};
}
bool below_five(int i) { return i < 5; }

// --- actors in child processes -------------------------------------------------------

// Echoes every message unchanged until the end of the stream, then closes.
task<void> py_pipe_echo(actor& self, pipe_end<std::string> end) {
  for (;;) {
    std::string s;
    try {
      s = co_await end.recv(self);
    } catch (const pipe_closed&) {
      end.close(self);
      co_return;
    }
    end.send(self, std::move(s));
  }
}
TROUPE_ACTOR(py_pipe_echo);

// Sends "hello" on the cue "send", closes its end on "close".
task<void> py_pipe_writer_on_cue(actor& self, pipe_end<std::string> out) {
  for (;;) {
    auto cue = co_await self.receive<note>();
    if (cue->text == "send") out.send(self, "hello");
    if (cue->text == "close") {
      out.close(self);
      co_await self.sleep_for(60s);  // the end of stream is the close, not this actor's end
    }
  }
}
TROUPE_ACTOR(py_pipe_writer_on_cue);

// Which of the pipe's errors `e` is.
std::string pipe_error_kind(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const pipe_direction_error&) {
    return "direction";
  } catch (const pipe_closed&) {
    return "closed";
  } catch (...) {
    return "other";
  }
}

// Uses both ends of a one-way pipe the wrong way, reports what each raised,
// then writes 5 and ends (its end of stream).
task<void> py_pipe_misuse(actor& self, pipe_end<int> reader, pipe_end<int> writer, actor_ref report) {
  std::string seen;
  std::exception_ptr e;
  try {
    co_await writer.recv(self);
    seen += "recv:none ";
  } catch (...) {
    e = std::current_exception();
  }
  if (e) seen += "recv:" + pipe_error_kind(std::exchange(e, nullptr)) + " ";
  try {
    co_await writer.poll(self, 10ms);
    seen += "poll:none ";
  } catch (...) {
    e = std::current_exception();
  }
  if (e) seen += "poll:" + pipe_error_kind(std::exchange(e, nullptr)) + " ";
  try {
    reader.send(self, 1);
    seen += "send:none";
  } catch (...) {
    e = std::current_exception();
  }
  if (e) seen += "send:" + pipe_error_kind(std::exchange(e, nullptr));
  self.send(report, note{seen});
  writer.send(self, 5);
}
TROUPE_ACTOR(py_pipe_misuse);

// Takes one item from `q` per cue "take" and reports it.
task<void> py_queue_take_on_cue(actor& self, queue<int> q, actor_ref report) {
  for (;;) {
    co_await self.receive<note>();
    int x = co_await q.get(self);
    self.send(report, note{std::to_string(x)});
  }
}
TROUPE_ACTOR(py_queue_take_on_cue);

// get with a timeout, reported as "empty" or the item.
task<void> py_queue_get_within(actor& self, queue<int> q, std::int64_t timeout_ms, actor_ref report) {
  std::optional<int> x = co_await q.get(self, std::chrono::milliseconds(timeout_ms));
  self.send(report, note{x ? std::to_string(*x) : std::string("empty")});
}
TROUPE_ACTOR(py_queue_get_within);

task<void> py_queue_put_range(actor& self, queue<int> q, int first, int count, actor_ref report) {
  for (int i = first; i < first + count; ++i) co_await q.put(self, i);
  self.send(report, done{});
}
TROUPE_ACTOR(py_queue_put_range);

// Per cue "take": one get and its task_done.
task<void> py_jq_take_and_done(actor& self, joinable_queue<int> q, actor_ref report) {
  for (;;) {
    co_await self.receive<note>();
    int x = co_await q.get(self);
    q.task_done(self);
    self.send(report, note{std::to_string(x)});
  }
}
TROUPE_ACTOR(py_jq_take_and_done);

std::string temp_path(const char* what) {
  static int counter = 0;
  return "/tmp/troupe-pysem-" + std::to_string(::getpid()) + "-" + what + "-" + std::to_string(++counter);
}

}  // namespace

// --- Pool -----------------------------------------------------------------------------

// Python: Pool(0) raises ValueError("Number of processes must be at least 1");
// Pool() uses os.cpu_count() processes.
TEST_F(process_test, py_pool_of_zero_processes_is_refused_and_not_given_means_one_per_core) {
  bool refused = false;
  std::string why;
  std::size_t default_workers = 0, two_workers = 0;
  long by_default = 0;
  run_program([&](actor& self) -> task<void> {
    try {
      pool none = co_await pool::start(self, {.processes = 0});
      none.terminate(self);
    } catch (const std::invalid_argument& e) {
      refused = true;
      why = e.what();
    }
    pool dflt = co_await pool::start(self);
    default_workers = dflt.processes();
    by_default = co_await dflt.apply(self, py_square, 9L);
    dflt.close(self);
    co_await dflt.join(self);
    pool two = co_await pool::start(self, {.processes = 2});
    two_workers = two.processes();
    two.close(self);
    co_await two.join(self);
  });
  EXPECT_TRUE(refused);
  EXPECT_NE(why.find("at least 1"), std::string::npos) << why;
  EXPECT_EQ(default_workers, std::max<std::size_t>(1, std::thread::hardware_concurrency()));
  EXPECT_EQ(by_default, 81);
  EXPECT_EQ(two_workers, 2u);
}

// Zero local processes with nodes is a pool of remote workers only: legitimate.
TEST_F(process_test, py_pool_with_zero_processes_and_nodes_runs_its_tasks_on_those_nodes) {
  int host_pid = 0;
  std::set<int> ran_in;
  std::size_t workers = 0, workers_not_given = 0;
  run_program([&](actor& self) -> task<void> {
    process host = co_await self.spawn_process();
    host_pid = static_cast<int>(host.pid());
    std::vector<node_ref> nodes{host.node()};
    pool_options p_opts{.processes = 0, .nodes = nodes};
    pool p = co_await pool::start(self, std::move(p_opts));
    workers = p.processes();
    std::vector<int> xs(20, 0);
    std::vector<int> pids = co_await p.map(self, py_pid, xs, 1);
    ran_in.insert(pids.begin(), pids.end());
    p.close(self);
    co_await p.join(self);
    pool_options q_opts{.nodes = nodes};
    pool q = co_await pool::start(self, std::move(q_opts));  // not given, with nodes: none local
    workers_not_given = q.processes();
    q.close(self);
    co_await q.join(self);
    host.terminate();
    co_await host.join(self);
  });
  EXPECT_EQ(workers, 1u);
  EXPECT_EQ(workers_not_given, 1u);
  EXPECT_EQ(ran_in, std::set<int>{host_pid});
}

// Python: map, imap and imap_unordered of an empty iterable give nothing.
TEST_F(process_test, py_map_imap_and_imap_unordered_of_an_empty_input_are_empty) {
  std::size_t map_plain = 1, map_strings = 1, map_unsized = 1, starmapped = 1;
  bool imap_empty = false, imap_unordered_empty = false, imap_strings_empty = false;
  std::vector<int> unsized_result;
  long after = 0;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    std::vector<long> none;                // contiguous and plain: the direct path
    std::vector<std::string> no_strings;   // items that need serializing
    auto nothing = std::views::iota(5, 10) | std::views::take_while(below_five);  // no size known
    std::vector<std::tuple<long>> no_tuples;
    map_plain = (co_await p.map(self, py_square, none)).size();
    map_strings = (co_await p.map(self, py_length, no_strings)).size();
    map_unsized = (co_await p.map(self, py_double, nothing)).size();
    starmapped = (co_await p.starmap(self, py_square, no_tuples)).size();
    auto s1 = p.imap(self, py_square, none);
    imap_empty = !(co_await s1.next(self));
    auto s2 = p.imap_unordered(self, py_square, none);
    imap_unordered_empty = !(co_await s2.next(self));
    auto s3 = p.imap(self, py_length, no_strings, 3);
    imap_strings_empty = !(co_await s3.next(self));
    // (and an input without a size that is not empty)
    auto firsts = std::views::iota(0, 10) | std::views::take_while(below_five);
    unsized_result = co_await p.map(self, py_double, firsts);
    after = co_await p.apply(self, py_square, 4L);
    p.close(self);
    co_await p.join(self);
  });
  EXPECT_EQ(map_plain, 0u);
  EXPECT_EQ(map_strings, 0u);
  EXPECT_EQ(map_unsized, 0u);
  EXPECT_EQ(starmapped, 0u);
  EXPECT_TRUE(imap_empty);
  EXPECT_TRUE(imap_unordered_empty);
  EXPECT_TRUE(imap_strings_empty);
  EXPECT_EQ(unsized_result, (std::vector<int>{0, 2, 4, 6, 8}));
  EXPECT_EQ(after, 16);
}

// Python: an iterable that raises at item k makes imap yield the results of
// items 0..k-1, then raise that very exception (in place of item k), then
// stop. map and starmap raise it at once. The pool stays usable.
TEST_F(process_test, py_an_exception_of_the_input_range_comes_out_of_imap_after_the_items_before_it) {
  std::map<std::string, std::vector<long>> got;  // per form: results before the error
  std::map<std::string, std::string> error;      // per form: the std::out_of_range's text
  std::map<std::string, bool> ended;             // per form: next() after the error is the end
  std::string map_error, starmap_error;
  long after = 0;
  std::vector<long> mapped_after;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    auto items = std::views::iota(0, 10) | std::views::transform(item_or_raise);
    std::vector<std::string> forms{"imap", "imap chunks of 3", "imap_unordered"};
    auto open = [&](const std::string& form) {
      if (form == "imap") return p.imap(self, py_square, items);
      if (form == "imap_unordered") return p.imap_unordered(self, py_square, items);
      return p.imap(self, py_square, items, 3);
    };
    for (const std::string& form : forms) {
      pool_stream<long> s = open(form);
      try {
        while (auto r = co_await s.next(self)) got[form].push_back(*r);
      } catch (const std::out_of_range& e) {
        error[form] = e.what();
      }
      auto next = co_await s.next(self);
      ended[form] = !next;
    }
    try {
      co_await p.map(self, py_square, items);
    } catch (const std::out_of_range& e) {
      map_error = e.what();
    }
    auto tuples = std::views::iota(0, 4) | std::views::transform(tuple_or_raise);
    try {
      co_await p.starmap(self, py_square, tuples);
    } catch (const std::out_of_range& e) {
      starmap_error = e.what();
    }
    after = co_await p.apply(self, py_square, 6L);
    std::vector<long> xs{1, 2, 3};
    mapped_after = co_await p.map(self, py_square, xs);
    p.close(self);
    co_await p.join(self);
  });
  const std::vector<long> before{0, 1, 4, 9, 16};
  for (std::string form : {"imap", "imap chunks of 3", "imap_unordered"}) {
    std::vector<long> g = got[form];
    std::sort(g.begin(), g.end());
    EXPECT_EQ(g, before) << form;
    EXPECT_EQ(error[form], "no item 5") << form;
    EXPECT_TRUE(ended[form]) << form;
  }
  EXPECT_EQ(map_error, "no item 5");
  EXPECT_EQ(starmap_error, "no tuple 2");
  EXPECT_EQ(after, 36);
  EXPECT_EQ(mapped_after, (std::vector<long>{1, 4, 9}));
}

// Python: a task that raises in imap raises in its place; next() then goes
// on with the following results.
TEST_F(process_test, py_a_failed_task_in_imap_raises_in_its_place_and_the_stream_goes_on) {
  std::vector<std::string> ordered;  // results and errors, as next() gave them
  std::multiset<std::string> unordered;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    std::vector<int> xs{1, 2, 3, 4, 5};
    std::vector<bool> orders{true, false};
    auto open = [&](bool in_order) {
      if (in_order) return p.imap(self, py_fails_on_three, xs);
      return p.imap_unordered(self, py_fails_on_three, xs);
    };
    for (bool in_order : orders) {
      pool_stream<int> s = open(in_order);
      for (;;) {
        std::string entry;
        try {
          auto r = co_await s.next(self);
          if (!r) break;
          entry = std::to_string(*r);
        } catch (const pool_task_error& e) {
          entry = e.type_name() + "/" + e.message();
        }
        if (in_order)
          ordered.push_back(entry);
        else
          unordered.insert(entry);
      }
    }
    p.close(self);
    co_await p.join(self);
  });
  const std::string failure = "std::runtime_error/three is not allowed";
  EXPECT_EQ(ordered, (std::vector<std::string>{"1", "2", failure, "4", "5"}));
  EXPECT_EQ(unordered, (std::multiset<std::string>{"1", "2", failure, "4", "5"}));
}

// Python: AsyncResult.get(timeout) raises multiprocessing.TimeoutError while
// the task goes on; a later get() returns its value. wait(timeout) only
// waits.
TEST_F(process_test, py_get_with_a_timeout_raises_pool_timeout_and_the_task_still_completes) {
  bool timed_out = false, ready_before = true, ready_after = false;
  int value = 0;
  long in_time = 0;
  std::string path = temp_path("gate");
  std::remove(path.c_str());
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    pool_future<int> f = p.apply_async(self, py_wait_for_file, path);
    try {
      co_await f.get(self, 20ms);  // the task cannot have finished: the file is not there
    } catch (const pool_timeout&) {
      timed_out = true;
    }
    ready_before = co_await f.wait(self, 10ms);
    if (std::FILE* gate = std::fopen(path.c_str(), "w")) std::fclose(gate);  // let it finish
    ready_after = co_await f.wait(self, 60s);
    value = co_await f.get(self);
    pool_future<long> g = p.apply_async(self, py_square, 5L);
    in_time = co_await g.get(self, 60s);  // a result within the timeout is simply returned
    p.close(self);
    co_await p.join(self);
  });
  std::remove(path.c_str());
  EXPECT_TRUE(timed_out);
  EXPECT_FALSE(ready_before);
  EXPECT_TRUE(ready_after);
  EXPECT_EQ(value, 7);
  EXPECT_EQ(in_time, 25);
}

// Python: terminate() stops the workers at once, without completing the
// outstanding work; join() after it returns.
TEST_F(process_test, py_terminate_with_ten_thousand_queued_tasks_fails_them_and_join_returns) {
  constexpr long count = 10000;
  long succeeded = 0, failed = 0, other_errors = 0;
  std::string why, late;
  bool joined = false;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    std::vector<pool_future<long>> fs;
    fs.reserve(count);
    for (long x = 0; x < count; ++x) fs.push_back(p.apply_async(self, py_slow, x));
    p.terminate(self);
    for (auto& f : fs) {
      try {
        co_await f.get(self);
        ++succeeded;
      } catch (const pool_task_error& e) {
        if (e.type_name().empty()) {
          ++failed;
          why = e.what();
        } else {
          ++other_errors;
        }
      }
    }
    co_await p.join(self);
    joined = true;
    auto after = p.apply_async(self, py_square, 2L);  // Python: ValueError("Pool not running")
    try {
      co_await after.get(self);
    } catch (const pool_task_error& e) {
      late = e.what();
    }
  });
  EXPECT_EQ(succeeded + failed, count);
  EXPECT_EQ(other_errors, 0);
  EXPECT_GT(failed, 0);
  EXPECT_NE(why.find("terminated"), std::string::npos) << why;
  EXPECT_TRUE(joined);
  EXPECT_NE(late.find("closed"), std::string::npos) << late;
}

// Python: maxtasksperchild=n: a worker process completes n tasks (a chunk
// of map is one task), then exits and is replaced.
TEST_F(process_test, py_maxtasksperchild_replaces_worker_processes) {
  std::vector<int> one_each;
  std::map<int, int> per_pid, per_pid_later;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 1, .maxtasksperchild = 1});
    for (int i = 0; i < 3; ++i) one_each.push_back(co_await p.apply(self, py_pid, 0));
    p.close(self);
    co_await p.join(self);
    pool q = co_await pool::start(self, {.processes = 1, .maxtasksperchild = 2});
    std::vector<int> xs(8, 0);
    std::vector<int> pids = co_await q.map(self, py_pid, xs, 1);
    for (int pid : pids) ++per_pid[pid];
    q.close(self);
    co_await q.join(self);
    // A worker one task into its two gets a batch of two: it runs one more, no more.
    pool r = co_await pool::start(self, {.processes = 1, .maxtasksperchild = 2});
    ++per_pid_later[co_await r.apply(self, py_pid, 0)];
    std::vector<pool_future<int>> fs;
    for (int i = 0; i < 10; ++i) fs.push_back(r.apply_async(self, py_pid, 0));
    for (auto& f : fs) ++per_pid_later[co_await f.get(self)];
    r.close(self);
    co_await r.join(self);
  });
  ASSERT_EQ(one_each.size(), 3u);
  EXPECT_EQ(std::set<int>(one_each.begin(), one_each.end()).size(), 3u);  // a fresh process for each
  for (int pid : one_each) EXPECT_NE(pid, static_cast<int>(::getpid()));
  int total = 0;
  for (auto [pid, n] : per_pid) {
    EXPECT_LE(n, 2) << "process " << pid;
    total += n;
  }
  EXPECT_EQ(total, 8);
  EXPECT_GE(per_pid.size(), 4u);
  total = 0;
  for (auto [pid, n] : per_pid_later) {
    EXPECT_LE(n, 2) << "process " << pid;
    total += n;
  }
  EXPECT_EQ(total, 11);
}

// Python re-raises a worker's exception with its type and message. troupe
// cannot rebuild the type: pool_task_error carries its name and message.
TEST_F(process_test, py_a_worker_exception_arrives_with_its_type_name_and_message) {
  std::string oor_type, oor_message, oor_what, custom_type, int_type, map_what, closed_type = "?", closed_what;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    try {
      co_await p.apply(self, py_out_of_range, 3);
    } catch (const pool_task_error& e) {
      oor_type = e.type_name();
      oor_message = e.message();
      oor_what = e.what();
    }
    try {
      co_await p.apply(self, py_custom_error, 1);
    } catch (const pool_task_error& e) {
      custom_type = e.type_name();
    }
    try {
      co_await p.apply(self, py_throws_int, 1);
    } catch (const pool_task_error& e) {
      int_type = e.type_name();
    }
    std::vector<int> xs{1, 2, 3, 4};
    try {
      co_await p.map(self, py_fails_on_three, xs);
    } catch (const pool_task_error& e) {
      map_what = e.what();
    }
    p.close(self);
    try {
      co_await p.apply(self, py_square, 1L);  // a failure of the pool, not of a task: no type
    } catch (const pool_task_error& e) {
      closed_type = e.type_name();
      closed_what = e.what();
    }
    co_await p.join(self);
  });
  EXPECT_EQ(oor_type, "std::out_of_range");
  EXPECT_EQ(oor_message, "index 3 is out of range");
  EXPECT_EQ(oor_what, "std::out_of_range: index 3 is out of range");
  EXPECT_EQ(custom_type, "pysem::custom_error");
  EXPECT_EQ(int_type, "int");
  EXPECT_NE(map_what.find("std::runtime_error"), std::string::npos) << map_what;
  EXPECT_NE(map_what.find("three is not allowed"), std::string::npos) << map_what;
  EXPECT_EQ(closed_type, "");
  EXPECT_EQ(closed_what, "the pool is closed");
}

// Python re-raises a worker's exception with its own type. troupe does for
// types the program registers (TROUPE_EXCEPTION), from apply, map and imap;
// the others stay pool_task_error (the test above).
TEST_F(process_test, py_a_registered_exception_type_comes_back_as_itself) {
  std::string from_apply, from_map, from_future;
  std::vector<std::string> stream;
  run_program([&](actor& self) -> task<void> {
    pool p = co_await pool::start(self, {.processes = 2});
    try {
      co_await p.apply(self, py_registered_on_three, 3);
    } catch (const pysem::registered_error& e) {
      from_apply = e.what();
    }
    std::vector<int> xs{1, 2, 3, 4};
    try {
      co_await p.map(self, py_registered_on_three, xs, 1);
    } catch (const pysem::registered_error& e) {
      from_map = e.what();
    }
    auto f = p.apply_async(self, py_registered_on_three, 3);
    try {
      co_await f.get(self, std::chrono::seconds(60));
    } catch (const pysem::registered_error& e) {
      from_future = e.what();
    }
    pool_stream<int> s = p.imap(self, py_registered_on_three, xs);
    for (;;) {
      try {
        auto r = co_await s.next(self);
        if (!r) break;
        stream.push_back(std::to_string(*r));
      } catch (const pysem::registered_error& e) {
        stream.push_back(std::string("registered_error/") + e.what());
      }
    }
    co_await p.apply(self, py_registered_on_three, 1);  // the pool goes on
    p.close(self);
    co_await p.join(self);
  });
  EXPECT_EQ(from_apply, "no room for 3");
  EXPECT_EQ(from_map, "no room for 3");
  EXPECT_EQ(from_future, "no room for 3");
  EXPECT_EQ(stream, (std::vector<std::string>{"1", "2", "registered_error/no room for 3", "4"}));
}

TEST(exception_registry, a_type_is_found_by_the_name_failures_carry) {
  EXPECT_EQ(detail::exception_type_name(typeid(pysem::registered_error)), "pysem::registered_error");
  auto t = detail::find_exception_thrower("pysem::registered_error");
  ASSERT_NE(t, nullptr);
  EXPECT_THROW(t("x"), pysem::registered_error);
  EXPECT_EQ(detail::find_exception_thrower("pysem::custom_error"), nullptr);
  EXPECT_FALSE(register_exception<pysem::registered_error>());  // once per type
}

// --- Queue and JoinableQueue ----------------------------------------------------------

// Python: put on a full Queue(maxsize) blocks until a get frees a slot, and
// put(timeout)/put_nowait raise queue.Full; get(timeout) on an empty one
// raises queue.Empty (troupe: an empty optional); qsize counts the items.
TEST_F(process_test, py_a_bounded_queue_put_waits_while_full_until_another_process_gets) {
  bool full_timeout = false, full_nowait = false, put_waited = false, put_finished = false;
  std::size_t size_full = 0, size_while_put_waits = 0, size_after = 0, size_end = 1;
  std::string taken;
  std::vector<int> rest;
  bool empty_timeout = false, empty_nowait = false;
  run_program([&](actor& self) -> task<void> {
    auto q = make_queue<int>(self, 2);
    co_await q.put(self, 1);
    co_await q.put(self, 2);
    size_full = co_await q.qsize(self);
    try {
      co_await q.put(self, 3, 10ms);
    } catch (const queue_full&) {
      full_timeout = true;
    }
    try {
      co_await q.put(self, 3, duration::zero());
    } catch (const queue_full&) {
      full_nowait = true;
    }
    process child = co_await self.spawn_process();
    actor_ref taker = co_await self.spawn(child, py_queue_take_on_cue, q, self.ref());
    // A put that waits, in an actor of its own.
    self.spawn(
        [](actor& a, queue<int> q, actor_ref me) -> task<void> {
          co_await q.put(a, 4);
          a.send(me, done{});
        },
        q, self.ref());
    auto early = co_await self.receive<done>(50ms);
    put_waited = !early;
    size_while_put_waits = co_await q.qsize(self);
    self.send(taker, note{"take"});
    auto t = co_await self.receive<note>(60s);
    if (t) taken = t->text;
    put_finished = static_cast<bool>(co_await self.receive<done>(60s));
    size_after = co_await q.qsize(self);
    rest.push_back(co_await q.get(self));
    rest.push_back(co_await q.get(self));
    empty_timeout = !(co_await q.get(self, 10ms)).has_value();
    empty_nowait = !(co_await q.get(self, duration::zero())).has_value();
    size_end = co_await q.qsize(self);
    child.terminate();
    co_await child.join(self);
  });
  EXPECT_EQ(size_full, 2u);
  EXPECT_TRUE(full_timeout);
  EXPECT_TRUE(full_nowait);
  EXPECT_TRUE(put_waited);
  EXPECT_EQ(size_while_put_waits, 2u);  // the waiting put's item is not in the queue
  EXPECT_EQ(taken, "1");                // first in, first out
  EXPECT_TRUE(put_finished);
  EXPECT_EQ(size_after, 2u);
  EXPECT_EQ(rest, (std::vector<int>{2, 4}));  // the refused 3s were never enqueued
  EXPECT_TRUE(empty_timeout);
  EXPECT_TRUE(empty_nowait);
  EXPECT_EQ(size_end, 0u);
}

// Python: get(timeout) in another process raises queue.Empty when nothing
// comes, and returns an item put while it waits; qsize is exact (troupe)
// after puts from another process.
TEST_F(process_test, py_a_get_in_another_process_times_out_when_empty_and_qsize_is_exact) {
  std::string first, second;
  std::size_t size = 0, size_after_gets = 1;
  run_program([&](actor& self) -> task<void> {
    auto q = make_queue<int>(self);
    process child = co_await self.spawn_process();
    std::int64_t briefly = 20, long_enough = 60000;
    co_await self.spawn(child, py_queue_get_within, q, briefly, self.ref());
    auto r1 = co_await self.receive<note>(60s);
    if (r1) first = r1->text;
    co_await self.spawn(child, py_queue_get_within, q, long_enough, self.ref());
    co_await self.sleep_for(20ms);  // (it may or may not wait yet: either way it gets the item)
    co_await q.put(self, 9);
    auto r2 = co_await self.receive<note>(60s);
    if (r2) second = r2->text;
    co_await self.spawn(child, py_queue_put_range, q, 100, 37, self.ref());
    co_await self.receive<done>(60s);
    size = co_await q.qsize(self);
    for (int i = 0; i < 37; ++i) co_await q.get(self);
    size_after_gets = co_await q.qsize(self);
    child.terminate();
    co_await child.join(self);
  });
  EXPECT_EQ(first, "empty");
  EXPECT_EQ(second, "9");
  EXPECT_EQ(size, 37u);
  EXPECT_EQ(size_after_gets, 0u);
}

// Python: JoinableQueue.join() returns at once when nothing is unfinished,
// and otherwise waits until task_done() was called for every item put.
// troupe ignores a task_done without an unfinished item (Python raises
// ValueError), so it cannot count ahead.
TEST_F(process_test, py_joinable_queue_join_waits_for_every_task_done_across_processes) {
  bool empty_join = false, waited_for_first = false, waited_for_second = false, joined = false;
  std::vector<std::string> taken;
  run_program([&](actor& self) -> task<void> {
    auto q = make_joinable_queue<int>(self);
    co_await q.join(self);  // nothing put: returns at once
    empty_join = true;
    q.task_done(self);  // nothing to mark: ignored
    co_await q.put(self, 10);
    co_await q.put(self, 11);
    process child = co_await self.spawn_process();
    actor_ref worker = co_await self.spawn(child, py_jq_take_and_done, q, self.ref());
    self.spawn(
        [](actor& a, joinable_queue<int> q, actor_ref me) -> task<void> {
          co_await q.join(a);
          a.send(me, done{});
        },
        q, self.ref());
    waited_for_first = !(co_await self.receive<done>(50ms));
    self.send(worker, note{"take"});
    auto t1 = co_await self.receive<note>(60s);
    if (t1) taken.push_back(t1->text);
    waited_for_second = !(co_await self.receive<done>(50ms));  // one item is still unfinished
    self.send(worker, note{"take"});
    auto t2 = co_await self.receive<note>(60s);
    if (t2) taken.push_back(t2->text);
    joined = static_cast<bool>(co_await self.receive<done>(60s));
    child.terminate();
    co_await child.join(self);
  });
  EXPECT_TRUE(empty_join);
  EXPECT_TRUE(waited_for_first);
  EXPECT_TRUE(waited_for_second);
  EXPECT_EQ(taken, (std::vector<std::string>{"10", "11"}));
  EXPECT_TRUE(joined);
}

// --- Pipe -------------------------------------------------------------------------------

// Python: on Pipe(duplex=False), recv() on the write end raises OSError
// ("connection is write-only"), so does poll(), and send() on the read end
// ("connection is read-only"). troupe: pipe_direction_error, not the
// pipe_closed of an end of stream.
TEST_F(process_test, py_one_way_pipe_ends_refuse_the_wrong_direction_in_any_process) {
  std::map<std::string, std::string> here;
  std::string there;
  int received = 0;
  bool eof = false, duplex_both = false, one_way_flags = false;
  run_program([&](actor& self) -> task<void> {
    auto [reader, writer] = make_pipe<int>(self, false);
    one_way_flags = reader.readable() && !reader.writable() && writer.writable() && !writer.readable();
    auto [a, b] = make_pipe<int>(self);
    duplex_both = a.readable() && a.writable() && b.readable() && b.writable();
    std::exception_ptr e;
    try {
      co_await writer.recv(self);
    } catch (...) {
      e = std::current_exception();
    }
    here["recv"] = e ? pipe_error_kind(std::exchange(e, nullptr)) : "none";
    try {
      co_await writer.recv(self, 10ms);
    } catch (...) {
      e = std::current_exception();
    }
    here["recv with timeout"] = e ? pipe_error_kind(std::exchange(e, nullptr)) : "none";
    try {
      co_await writer.poll(self);
    } catch (...) {
      e = std::current_exception();
    }
    here["poll"] = e ? pipe_error_kind(std::exchange(e, nullptr)) : "none";
    try {
      reader.send(self, 1);
    } catch (...) {
      e = std::current_exception();
    }
    here["send"] = e ? pipe_error_kind(std::exchange(e, nullptr)) : "none";
    // The same ends, misused in another process, then written the right way.
    process child = co_await self.spawn_process();
    co_await self.spawn(child, py_pipe_misuse, reader, writer, self.ref());
    auto n = co_await self.receive<note>(60s);
    if (n) there = n->text;
    received = co_await reader.recv(self);
    try {
      co_await reader.recv(self);  // the writer ended: end of stream
    } catch (const pipe_closed&) {
      eof = true;
    }
    a.close(self);
    b.close(self);
    child.terminate();
    co_await child.join(self);
  });
  EXPECT_TRUE(one_way_flags);
  EXPECT_TRUE(duplex_both);
  for (const char* op : {"recv", "recv with timeout", "poll", "send"}) EXPECT_EQ(here[op], "direction") << op;
  EXPECT_EQ(there, "recv:direction poll:direction send:direction");
  EXPECT_EQ(received, 5);
  EXPECT_TRUE(eof);
}

// Python: each recv() returns exactly one object that send() sent: messages
// are never merged or split, whatever their size (an empty one included).
TEST_F(process_test, py_pipe_messages_keep_their_boundaries_and_a_16_mib_message_passes) {
  std::vector<std::size_t> sizes{0, 1, 2, 3, 100, 4095, 4096, 4097, 65535, 65536, 65537, 1u << 20, 16u << 20, 0, 5};
  std::vector<std::string> sent;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    std::string s(sizes[i], static_cast<char>('a' + i % 26));
    if (!s.empty()) {
      s.front() = '<';
      s.back() = '>';
    }
    sent.push_back(std::move(s));
  }
  std::vector<std::string> got;
  bool eof = false;
  run_program([&](actor& self) -> task<void> {
    auto [mine, theirs] = make_pipe<std::string>(self);
    process child = co_await self.spawn_process();
    co_await self.spawn(child, py_pipe_echo, theirs);
    for (const auto& s : sent) mine.send(self, s);  // all at once, before any is read
    for (std::size_t i = 0; i < sent.size(); ++i) got.push_back(co_await mine.recv(self));
    mine.close(self);  // the echo sees the end, and closes its end
    try {
      co_await mine.recv(self);
    } catch (const pipe_closed&) {
      eof = true;
    }
    child.terminate();
    co_await child.join(self);
  });
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].size(), sent[i].size()) << "message " << i;
    EXPECT_TRUE(got[i] == sent[i]) << "message " << i << " differs";
  }
  EXPECT_TRUE(eof);
}

// Python: poll(timeout) waits up to timeout and returns False when nothing
// came, True as soon as something can be received (an object, or the end
// of the stream, where recv raises EOFError); poll does not take it.
TEST_F(process_test, py_pipe_poll_waits_and_sees_an_item_or_the_end_once_sent) {
  bool at_once = true, after_wait = true, recv_timed_out = false, sees_item = false, still_there = false,
       after_recv = true, sees_end = false, eof = false;
  std::string item;
  run_program([&](actor& self) -> task<void> {
    auto [reader, writer] = make_pipe<std::string>(self, false);
    process child = co_await self.spawn_process();
    actor_ref w = co_await self.spawn(child, py_pipe_writer_on_cue, writer);
    at_once = co_await reader.poll(self);
    after_wait = co_await reader.poll(self, 50ms);  // nothing was sent
    recv_timed_out = !(co_await reader.recv(self, 10ms)).has_value();
    self.send(w, note{"send"});
    sees_item = co_await reader.poll(self, 60s);
    still_there = co_await reader.poll(self);
    item = co_await reader.recv(self);
    after_recv = co_await reader.poll(self);
    self.send(w, note{"close"});
    sees_end = co_await reader.poll(self, 60s);
    try {
      co_await reader.recv(self);
    } catch (const pipe_closed&) {
      eof = true;
    }
    child.terminate();
    co_await child.join(self);
  });
  EXPECT_FALSE(at_once);
  EXPECT_FALSE(after_wait);
  EXPECT_TRUE(recv_timed_out);
  EXPECT_TRUE(sees_item);
  EXPECT_TRUE(still_there);
  EXPECT_EQ(item, "hello");
  EXPECT_FALSE(after_recv);
  EXPECT_TRUE(sees_end);
  EXPECT_TRUE(eof);
}

// --- timeouts at the extremes -----------------------------------------------------

TEST(queue_timeouts, negative_ones_give_up_at_once_and_huge_ones_wait) {
  troupe::node n;
  std::optional<int> empty_get = 7, late_get;
  bool full_put = false;
  n.spawn([&](troupe::actor& self) -> troupe::task<void> {
    auto q = troupe::make_queue<int>(self, 1);
    empty_get = co_await q.get(self, -std::chrono::seconds(1));  // nothing there: at once, not for ever
    co_await q.put(self, 1);
    try {
      co_await q.put(self, 2, -std::chrono::seconds(1));
    } catch (const troupe::queue_full&) {
      full_put = true;
    }
    (void)co_await q.get(self);
    self.spawn([q](troupe::actor& me) mutable -> troupe::task<void> {
      co_await me.sleep_for(std::chrono::milliseconds(10));
      co_await q.put(me, 3);
    });
    late_get = co_await q.get(self, troupe::duration::max() - std::chrono::nanoseconds(1));
    self.node().shutdown();  // the queue actor ends too
  });
  n.run();
  EXPECT_FALSE(empty_get.has_value());
  EXPECT_TRUE(full_put);
  EXPECT_EQ(late_get, 3);
}
