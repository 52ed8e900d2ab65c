#include <troupe/actors/pool.hpp>

#include <algorithm>
#include <unordered_set>

namespace troupe {
namespace detail {

namespace pp = pool_protocol;

// A worker: takes batches of jobs, runs each, answers with their outcomes.
task<void> pool_worker(actor& self, actor_ref coordinator, std::uint64_t maxtasks) {
  self.send(coordinator, pp::hello{});
  std::uint64_t done = 0;
  byte_buffer out;
  for (;;) {
    auto batch = co_await self.receive<pp::jobs>();
    pp::outcomes results;
    results.list.reserve(batch->list.size());
    for (pp::job& j : batch->list) {
      pp::outcome o;
      o.id = j.id;
      out.clear();
      try {
        const task_function* f = find_task_function(j.fn);
        if (!f) throw pool_task_error("no task function with id " + std::to_string(j.fn) +
                                      " is registered (TROUPE_TASK) in this program");
        auto input = std::span(reinterpret_cast<const std::byte*>(j.input.data()), j.input.size());
        if (j.kind == pp::map) {
          if (!f->map) throw pool_task_error("task function " + f->name + " does not take one argument");
          f->map(f->fn, input, out);
        } else {
          f->apply(f->fn, input, out);
        }
        o.output.assign(reinterpret_cast<const char*>(out.data()), reinterpret_cast<const char*>(out.data()) + out.size());
      } catch (const std::exception& e) {
        o.ok = false;
        std::string what = e.what();
        o.output.assign(what.begin(), what.end());
      } catch (...) {
        o.ok = false;
        std::string what = "task raised an exception of unknown type";
        o.output.assign(what.begin(), what.end());
      }
      results.list.push_back(std::move(o));
    }
    done += batch->list.size();
    self.send(coordinator, std::move(results));
    if (maxtasks && done >= maxtasks) co_return;  // retire; the coordinator starts a fresh one
  }
}
TROUPE_ACTOR_NAMED(pool_worker, "troupe::pool_worker");

namespace {

struct entry {
  pp::job work;
  actor_ref reply_to;
  int attempts = 0;
};

struct worker_state {
  process proc;  // the worker's own process; empty for workers on other nodes
  bool ready = false;
  std::vector<std::uint64_t> in_flight;
};

}  // namespace

task<void> pool_coordinator(actor& self, const pool_options& opts, const std::vector<node_ref>& nodes) {
  std::unordered_map<actor_ref, worker_state> workers;
  std::unordered_map<node_id, process> procs;  // worker processes started, by node
  std::unordered_map<std::uint64_t, entry> jobs;  // every job not finished yet
  std::deque<std::uint64_t> pending;              // jobs waiting for a worker
  std::deque<message> joiners;
  bool closing = false;
  std::size_t starting = 0;  // processes asked for, not yet said hello
  const std::size_t prefetch = 2;  // batches a worker may hold
  // However the coordinator ends (shutdown, kill), its workers end with it.
  struct reaper {
    std::unordered_map<node_id, process>& procs;
    ~reaper() {
      for (auto& [n, p] : procs) p.kill();
    }
  } reap_workers{procs};

  auto start_local_worker = [&]() -> task<void> {
    ++starting;
    try {
      // Daemonic, as Python's pool workers: they never outlive the program.
      process p = co_await self.spawn_process({.name = "pool-worker", .daemon = true}, pool_worker, self.ref(),
                                              static_cast<std::uint64_t>(opts.maxtasksperchild));
      procs[p.node().id] = p;
    } catch (const std::exception& e) {
      --starting;
      TROUPE_LOG(error) << "pool: cannot start a worker process: " << e.what();
    }
  };
  auto finish = [&](std::uint64_t id, bool ok, std::vector<char> output) {
    auto it = jobs.find(id);
    if (it == jobs.end()) return;
    self.send(it->second.reply_to, pool_result_msg{pp::result{id, ok, std::move(output)}});
    jobs.erase(it);
  };
  // Jobs a worker may hold: enough to keep it busy between two messages,
  // but never so many that one worker takes work the others could do.
  const std::size_t expected_workers = std::max<std::size_t>(1, opts.processes + nodes.size());
  auto dispatch = [&] {
    std::size_t fair = (jobs.size() + 2 * expected_workers - 1) / (2 * expected_workers);
    std::size_t cap = std::clamp<std::size_t>(fair, 1, prefetch * opts.batch);
    for (auto& [ref, w] : workers) {
      if (!w.ready) continue;
      while (!pending.empty() && w.in_flight.size() < cap) {
        pp::jobs batch;
        while (!pending.empty() && batch.list.size() < opts.batch && w.in_flight.size() < cap) {
          std::uint64_t id = pending.front();
          pending.pop_front();
          auto it = jobs.find(id);
          if (it == jobs.end()) continue;
          ++it->second.attempts;
          batch.list.push_back(it->second.work);
          w.in_flight.push_back(id);
        }
        if (!batch.list.empty()) self.send(ref, std::move(batch));
      }
    }
  };
  auto maybe_joined = [&]() {
    if (!closing || !jobs.empty()) return false;
    // Everything ran: let the workers go, then answer the joiners.
    for (auto& [ref, w] : workers) {
      if (w.proc)
        w.proc.terminate();
      else
        self.kill(ref);
    }
    return true;
  };

  for (std::size_t i = 0; i < opts.processes; ++i) co_await start_local_worker();
  for (node_ref n : nodes) {
    try {
      actor_ref w = co_await self.spawn(n, pool_worker, self.ref(), static_cast<std::uint64_t>(opts.maxtasksperchild));
      (void)w;
      ++starting;
    } catch (const std::exception& e) {
      TROUPE_LOG(error) << "pool: cannot start a worker on node " << node_id_string(n.id) << ": " << e.what();
    }
  }

  for (;;) {
    message m = co_await self.receive();
    if (auto* s = m.get_if<pool_submit_msg>()) {
      if (closing) {
        std::string why = "the pool is closed";
        self.send(s->s.reply_to, pool_result_msg{pp::result{s->s.work.id, false, {why.begin(), why.end()}}});
        continue;
      }
      std::uint64_t id = s->s.work.id;
      jobs.emplace(id, entry{std::move(s->s.work), s->s.reply_to, 0});
      pending.push_back(id);
      dispatch();
    } else if (m.is<pp::hello>()) {
      actor_ref w = m.sender();
      if (starting) --starting;
      worker_state& st = workers[w];
      st.ready = true;
      if (auto p = procs.find(w.node); p != procs.end()) st.proc = p->second;
      self.monitor(w);
      dispatch();
    } else if (auto* o = m.get_if<pp::outcomes>()) {
      auto it = workers.find(m.sender());
      for (pp::outcome& x : o->list) {
        if (it != workers.end()) std::erase(it->second.in_flight, x.id);
        finish(x.id, x.ok, std::move(x.output));
      }
      dispatch();
      if (maybe_joined() && workers.empty()) {
        for (auto& j : joiners) self.reply(j, pp::joined{});
        joiners.clear();
      }
    } else if (auto* d = m.get_if<down>()) {
      auto it = workers.find(d->actor);
      if (it == workers.end()) continue;
      // Its unfinished jobs run again elsewhere, unless they used up their tries.
      bool crashed = d->reason != exit_reason::normal;
      // (in reverse, so that push_front keeps their order)
      for (auto rit = it->second.in_flight.rbegin(); rit != it->second.in_flight.rend(); ++rit) {
        std::uint64_t id = *rit;
        auto j = jobs.find(id);
        if (j == jobs.end()) continue;
        if (!crashed) --j->second.attempts;  // a retiring worker did not fail it
        if (j->second.attempts > opts.retries) {
          std::string why = "the worker running this task died " + std::to_string(j->second.attempts) +
                            " times (last: " + d->detail + ")";
          finish(id, false, {why.begin(), why.end()});
        } else {
          pending.push_front(id);
        }
      }
      bool own_process = static_cast<bool>(it->second.proc);
      if (own_process) procs.erase(d->actor.node);
      workers.erase(it);
      if (!closing) {
        if (own_process) {
          co_await start_local_worker();
        } else if (!crashed) {  // a retired worker on another node: start a fresh one there
          try {
            co_await self.spawn(node_ref{d->actor.node}, pool_worker, self.ref(),
                                static_cast<std::uint64_t>(opts.maxtasksperchild));
            ++starting;
          } catch (const std::exception& e) {
            TROUPE_LOG(error) << "pool: cannot restart a worker: " << e.what();
          }
        }
      }
      dispatch();
      if (closing && jobs.empty() && workers.empty()) {
        for (auto& j : joiners) self.reply(j, pp::joined{});
        joiners.clear();
      }
    } else if (m.is<pp::close>()) {
      closing = true;
      if (maybe_joined() && workers.empty()) {
        for (auto& j : joiners) self.reply(j, pp::joined{});
        joiners.clear();
      }
    } else if (m.is<pp::join>()) {
      if (closing && jobs.empty() && workers.empty())
        self.reply(m, pp::joined{});
      else
        joiners.push_back(std::move(m));
    } else if (m.is<pp::terminate>()) {
      closing = true;
      for (auto& [id, e] : jobs) {
        std::string why = "the pool was terminated";
        self.send(e.reply_to, pool_result_msg{pp::result{id, false, {why.begin(), why.end()}}});
      }
      jobs.clear();
      pending.clear();
      for (auto& [ref, w] : workers) {
        if (w.proc)
          w.proc.kill();
        else
          self.kill(ref);
      }
    }
  }
}

}  // namespace detail

pool_starter pool::start(actor& self, const pool_options& given) {
  pool_options opts = given;
  std::vector<node_ref> nodes(given.nodes.begin(), given.nodes.end());
  opts.nodes = {};
  if (opts.processes == 0 && nodes.empty()) opts.processes = std::max(1u, std::thread::hardware_concurrency());
  if (opts.batch == 0) opts.batch = 1;
  // A worker retires after maxtasksperchild tasks: never send it more at once.
  if (opts.maxtasksperchild) opts.batch = std::min(opts.batch, opts.maxtasksperchild);
  std::size_t n = opts.processes + nodes.size();
  actor_ref c = self.spawn(detail::pool_coordinator, opts, std::move(nodes));
  return pool_starter(pool(c, n));
}

std::uint64_t pool::fn_id(const void* fn) {
  const detail::task_function* f = detail::find_task_function(fn);
  if (!f) throw pool_task_error("the function is not registered with TROUPE_TASK");
  return f->id;
}

namespace {
// Task ids are unique in the process, and results that arrive for a task
// nobody waits for yet are kept per process: an actor may use several
// pools, and their results share its mailbox.
thread_local std::uint64_t last_task_id = 0;
thread_local std::unordered_map<std::uint64_t, detail::pool_protocol::result> arrived_;
}  // namespace

std::uint64_t pool::submit(actor& self, std::uint64_t fn, std::uint8_t kind, std::vector<char> input) {
  std::uint64_t id = ++last_task_id;
  detail::pool_protocol::submit s;
  s.work.id = id;
  s.work.fn = fn;
  s.work.kind = kind;
  s.work.input = std::move(input);
  s.reply_to = self.ref();
  self.send(coordinator_, detail::pool_submit_msg{std::move(s)});
  return id;
}

task<detail::pool_protocol::result> pool::wait(actor& self, std::uint64_t id) {
  auto it = arrived_.find(id);
  if (it != arrived_.end()) {
    auto r = std::move(it->second);
    arrived_.erase(it);
    co_return r;
  }
  for (;;) {
    auto m = co_await self.receive<detail::pool_result_msg>();
    if (m->r.id == id) co_return std::move(m->r);
    arrived_.emplace(m->r.id, std::move(m->r));
  }
}

task<detail::pool_protocol::result> pool::wait_any(actor& self,
                                                   const std::unordered_map<std::uint64_t, std::size_t>& ids) {
  for (auto& [id, n] : ids) {
    auto it = arrived_.find(id);
    if (it != arrived_.end()) {
      auto r = std::move(it->second);
      arrived_.erase(it);
      co_return r;
    }
  }
  for (;;) {
    auto m = co_await self.receive<detail::pool_result_msg>();
    if (ids.count(m->r.id)) co_return std::move(m->r);
    arrived_.emplace(m->r.id, std::move(m->r));
  }
}

void pool::close(actor& self) { self.send(coordinator_, detail::pool_protocol::close{}); }

task<void> pool::join(actor& self) {
  co_await self.request<detail::pool_protocol::joined>(coordinator_, detail::pool_protocol::join{}, duration::max());
}

void pool::terminate(actor& self) { self.send(coordinator_, detail::pool_protocol::terminate{}); }

}  // namespace troupe
