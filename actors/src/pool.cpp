#include <troupe/actors/pool.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <memory>
#include <stdexcept>
#include <typeinfo>
#include <unordered_set>

namespace troupe {
namespace detail {

namespace pp = pool_protocol;

// Packing of job batches and outcomes (host byte order: the peers'
// wire_format agreed on it in their handshake).
template <class T>
void put(byte_buffer& w, T v) {
  w.append(&v, sizeof v);
}

struct reader {
  const byte_buffer& w;
  std::size_t at = 0;
  template <class T>
  bool get(T& v) {
    if (w.size() - at < sizeof v) return false;
    std::memcpy(&v, w.data() + at, sizeof v);
    at += sizeof v;
    return true;
  }
  bool bytes(std::uint32_t n, std::span<const std::byte>& out) {
    if (w.size() - at < n) return false;
    out = std::span(reinterpret_cast<const std::byte*>(w.data() + at), n);
    at += n;
    return true;
  }
  bool done() const { return at == w.size(); }
};

void put_outcome(byte_buffer& w, std::uint64_t id, bool ok, std::span<const std::byte> bytes) {
  put(w, id);
  put<std::uint8_t>(w, ok ? 1 : 0);
  put(w, static_cast<std::uint32_t>(bytes.size()));
  w.append(bytes.data(), bytes.size());
}

// (the type name's size little-endian, whatever the machine)
std::vector<char> encode_failure(std::string_view type, std::string_view message) {
  std::vector<char> out;
  out.reserve(4 + type.size() + message.size());
  auto n = static_cast<std::uint32_t>(type.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.insert(out.end(), type.begin(), type.end());
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

void throw_failure(const std::vector<char>& output) {
  if (output.size() < 4) throw pool_task_error(std::string(output.begin(), output.end()));
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= std::uint32_t(static_cast<unsigned char>(output[i])) << (8 * i);
  if (n > output.size() - 4) throw pool_task_error(std::string(output.begin(), output.end()));
  auto type_end = output.begin() + static_cast<std::ptrdiff_t>(4 + n);
  std::string type(output.begin() + 4, type_end), message(type_end, output.end());
  // A type the program registered (TROUPE_EXCEPTION) comes back as itself.
  if (!type.empty())
    if (exception_thrower t = find_exception_thrower(type)) t(message);
  throw pool_task_error(std::move(type), std::move(message));
}

namespace {

std::vector<char> pool_failure(std::string_view why) { return encode_failure({}, why); }

// The failure of a task that raised: its type name (demangled) and message.
std::vector<char> task_failure(const std::type_info* type, std::string_view message) {
  return encode_failure(type ? exception_type_name(*type) : std::string(), message);
}

}  // namespace

// A worker: takes batches of jobs, runs each, answers with their outcomes.
task<void> pool_worker(actor& self, actor_ref coordinator, std::uint64_t maxtasks) {
  self.send(coordinator, pp::hello{});
  std::uint64_t done = 0;
  for (;;) {
    auto batch = co_await self.receive<pp::jobs>();
    pp::outcomes results;
    results.wire.reserve(batch->wire.size() + 64);
    reader r{batch->wire};
    std::size_t count = 0;
    while (!r.done()) {
      // At its limit the worker retires; the coordinator hands the jobs of
      // the batch it did not run to another worker.
      if (maxtasks && done + count >= maxtasks) break;
      std::uint64_t id = 0, fn = 0;
      std::uint8_t kind = 0;
      std::uint32_t size = 0;
      std::span<const std::byte> input;
      if (!r.get(id) || !r.get(fn) || !r.get(kind) || !r.get(size) || !r.bytes(size, input)) {
        TROUPE_LOG(error) << "pool worker: garbled batch of jobs dropped";
        break;
      }
      ++count;
      // The result is written straight after its outcome header; its size
      // is filled in afterwards (or the header rewritten for an error).
      std::size_t at = results.wire.size();
      auto fail = [&](const std::vector<char>& why) {
        results.wire.resize(at);
        put_outcome(results.wire, id, false, std::as_bytes(std::span(why.data(), why.size())));
      };
      const task_function* f = find_task_function(fn);
      if (!f) {
        fail(pool_failure("no task function with id " + std::to_string(fn) +
                          " is registered (TROUPE_TASK) in this program"));
        continue;
      }
      if (kind == pp::map && !f->map) {
        fail(pool_failure("task function " + f->name + " does not take one argument"));
        continue;
      }
      try {
        put(results.wire, id);
        put<std::uint8_t>(results.wire, 1);
        put<std::uint32_t>(results.wire, 0);
        std::size_t body = results.wire.size();
        if (kind == pp::map)
          f->map(f->fn, input, results.wire);
        else
          f->apply(f->fn, input, results.wire);
        auto size = static_cast<std::uint32_t>(results.wire.size() - body);
        std::memcpy(results.wire.data() + body - sizeof size, &size, sizeof size);
      } catch (const std::exception& e) {
        // As Python re-raises the exception's type: here its name comes back.
        fail(task_failure(&typeid(e), e.what()));
      } catch (...) {
        fail(task_failure(abi::__cxa_current_exception_type(), "(an exception not derived from std::exception)"));
      }
    }
    done += count;
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
  std::deque<std::uint64_t> in_flight;  // in the order sent; outcomes come back in that order
};

}  // namespace

task<void> pool_coordinator(actor& self, const pool_options& opts, const std::vector<node_ref>& nodes) {
  std::unordered_map<actor_ref, worker_state> workers;
  std::unordered_map<node_id, process> procs;  // worker processes started, by node
  std::unordered_map<std::uint64_t, entry> jobs;  // every job not finished yet
  std::deque<std::uint64_t> pending;              // jobs waiting for a worker
  std::deque<message> joiners;
  bool closing = false;
  bool terminated = false;  // terminate(): workers are killed, not asked to end
  const std::size_t local_processes = opts.processes.value_or(0);  // (pool::start always sets it)
  std::size_t starting = 0;  // processes asked for, not yet said hello
  std::string start_failure;  // why the last worker could not be started
  int early_deaths = 0;       // worker processes in a row that ended before their hello
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
      process_options worker_opts{.name = "pool-worker", .daemon = true};  // (named: g++ 12, docs/guide.md)
      process p = co_await self.spawn_process(std::move(worker_opts), pool_worker, self.ref(),
                                              static_cast<std::uint64_t>(opts.maxtasksperchild));
      procs[p.node().id] = p;
      // A process can end before its worker says hello (it never got going):
      // a small actor joins it and tells the coordinator either way.
      self.spawn(
          [](actor& a, process proc, actor_ref coordinator) -> task<void> {
            co_await proc.join(a);
            a.send(coordinator, pp::process_ended{proc.node().id});
          },
          p, self.ref());
    } catch (const std::exception& e) {
      --starting;
      TROUPE_LOG(error) << "pool: cannot start a worker process: " << e.what();
      start_failure = e.what();
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
  const std::size_t expected_workers = std::max<std::size_t>(1, local_processes + nodes.size());
  auto dispatch = [&] {
    std::size_t fair = (jobs.size() + 2 * expected_workers - 1) / (2 * expected_workers);
    std::size_t cap = std::clamp<std::size_t>(fair, 1, prefetch * opts.batch);
    for (auto& [ref, w] : workers) {
      if (!w.ready) continue;
      while (!pending.empty() && w.in_flight.size() < cap) {
        pp::jobs batch;
        std::size_t n = 0;
        while (!pending.empty() && n < opts.batch && w.in_flight.size() < cap) {
          std::uint64_t id = pending.front();
          pending.pop_front();
          auto it = jobs.find(id);
          if (it == jobs.end()) continue;
          ++it->second.attempts;
          const pp::job& j = it->second.work;
          put(batch.wire, j.id);
          put(batch.wire, j.fn);
          put(batch.wire, j.kind);
          put(batch.wire, static_cast<std::uint32_t>(j.input.size()));
          batch.wire.append(j.input.data(), j.input.size());
          w.in_flight.push_back(id);
          ++n;
        }
        if (n) {
          try {
            self.send(ref, std::move(batch));
          } catch (const std::exception& e) {  // e.g. over the frame limit: these jobs fail, the pool goes on
            std::string why = std::string("cannot send the task to a worker: ") + e.what();
            for (std::size_t k = 0; k < n && !w.in_flight.empty(); ++k) {
              std::uint64_t id = w.in_flight.back();
              w.in_flight.pop_back();
              finish(id, false, pool_failure(why));
            }
          }
        }
      }
    }
  };
  // After close: once every job has finished, let the workers go (also
  // ones that say hello late), and answer join when all have ended.
  // Without any worker left and none starting, waiting jobs fail.
  auto settle = [&] {
    if (workers.empty() && starting == 0 && !jobs.empty()) {
      std::string why = "no pool worker is left" + (start_failure.empty() ? std::string() : ": " + start_failure);
      std::vector<std::uint64_t> ids;
      for (auto& [id, e] : jobs) ids.push_back(id);
      for (auto id : ids) finish(id, false, pool_failure(why));
      pending.clear();
    }
    if (!closing || !jobs.empty()) return;
    for (auto& [ref, w] : workers) {
      if (!w.proc)
        self.kill(ref);
      else if (terminated)
        w.proc.kill();
      else
        w.proc.terminate();
    }
    if (workers.empty()) {
      for (auto& j : joiners) self.reply(j, pp::joined{});
      joiners.clear();
    }
  };

  for (std::size_t i = 0; i < local_processes; ++i) co_await start_local_worker();
  for (node_ref n : nodes) {
    try {
      actor_ref w = co_await self.spawn(n, pool_worker, self.ref(), static_cast<std::uint64_t>(opts.maxtasksperchild));
      (void)w;
      ++starting;
    } catch (const std::exception& e) {
      TROUPE_LOG(error) << "pool: cannot start a worker on node " << node_id_string(n.id) << ": " << e.what();
    }
  }

  // However the coordinator ends (killed, an exception, the node shutting
  // down), every task still waiting gets an answer rather than a hang.
  struct answer_the_rest {
    actor& self;
    std::unordered_map<std::uint64_t, entry>& jobs;
    ~answer_the_rest() {
      std::string why = "the pool's coordinator ended";
      for (auto& [id, e] : jobs) {
        try {
          self.send(e.reply_to, pool_result_msg{pp::result{id, false, pool_failure(why)}});
        } catch (...) {
        }
      }
    }
  } answer_guard{self, jobs};

  for (;;) {
    message m = co_await self.receive();
    if (auto* s = m.get_if<pool_submit_msg>()) {
      if (closing) {
        std::string why = "the pool is closed";
        self.send(s->s.reply_to, pool_result_msg{pp::result{s->s.work.id, false, pool_failure(why)}});
        continue;
      }
      std::uint64_t id = s->s.work.id;
      jobs.emplace(id, entry{std::move(s->s.work), s->s.reply_to, 0});
      pending.push_back(id);
      dispatch();
    } else if (m.is<pp::hello>()) {
      actor_ref w = m.sender();
      if (starting) --starting;
      early_deaths = 0;
      if (terminated) {  // too late: terminate() killed its process already (or kills it now)
        if (auto p = procs.find(w.node); p != procs.end())
          p->second.kill();
        else
          self.kill(w);
        continue;
      }
      worker_state& st = workers[w];
      st.ready = true;
      if (auto p = procs.find(w.node); p != procs.end()) st.proc = p->second;
      self.monitor(w);
      dispatch();
      settle();  // a worker that comes after close (or terminate) with nothing to do goes at once
    } else if (auto* o = m.get_if<pp::outcomes>()) {
      auto it = workers.find(m.sender());
      reader r{o->wire};
      while (!r.done()) {
        std::uint64_t id = 0;
        std::uint8_t ok = 0;
        std::uint32_t size = 0;
        std::span<const std::byte> bytes;
        if (!r.get(id) || !r.get(ok) || !r.get(size) || !r.bytes(size, bytes)) {
          TROUPE_LOG(error) << "pool: garbled outcomes from " << m.sender() << " dropped";
          break;
        }
        if (it != workers.end()) {
          auto& f = it->second.in_flight;
          if (!f.empty() && f.front() == id)
            f.pop_front();
          else if (auto pos = std::find(f.begin(), f.end(), id); pos != f.end())
            f.erase(pos);
        }
        const char* p = reinterpret_cast<const char*>(bytes.data());
        finish(id, ok != 0, std::vector<char>(p, p + bytes.size()));
      }
      dispatch();
      settle();
    } else if (auto* e = m.get_if<pp::process_ended>()) {
      // Ended without ever saying hello: it no longer counts as starting.
      bool known = false;
      for (auto& [ref, w] : workers) known |= ref.node == e->node;
      if (!known && procs.erase(e->node)) {
        if (starting) --starting;
        if (!terminated) {  // (terminate kills the ones still starting)
          TROUPE_LOG(warn) << "pool: a worker process ended before it started serving";
          start_failure = "worker processes end before they start serving";
        }
        if (++early_deaths <= 5 && (!closing || !jobs.empty())) co_await start_local_worker();
        settle();
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
          finish(id, false, pool_failure(why));
        } else {
          pending.push_front(id);
        }
      }
      bool own_process = static_cast<bool>(it->second.proc);
      if (own_process) procs.erase(d->actor.node);
      workers.erase(it);
      if (!closing || !jobs.empty()) {  // unfinished jobs still need a worker after close
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
      settle();
    } else if (m.is<pp::close>()) {
      closing = true;
      settle();
    } else if (m.is<pp::join>()) {
      if (closing && jobs.empty() && workers.empty())
        self.reply(m, pp::joined{});
      else
        joiners.push_back(std::move(m));
    } else if (m.is<pp::terminate>()) {
      closing = true;
      terminated = true;
      const std::vector<char> why = pool_failure("the pool was terminated");
      for (auto& [id, e] : jobs) self.send(e.reply_to, pool_result_msg{pp::result{id, false, why}});
      jobs.clear();
      pending.clear();
      // Every worker process, also the ones that did not say hello yet (one
      // that still does is killed then); settle kills the workers on nodes.
      for (auto& [n, p] : procs) p.kill();
      settle();
    }
  }
}

}  // namespace detail

pool_starter pool::start(actor& self, const pool_options& given) {
  pool_options opts = given;
  std::vector<node_ref> nodes(given.nodes.begin(), given.nodes.end());
  opts.nodes = {};
  // Not given: one per core, or none when nodes host the workers. Given
  // as 0 with nodes: only those. No worker at all is refused, as Python's
  // Pool(0) raises ValueError.
  if (!opts.processes)
    opts.processes = nodes.empty() ? std::max<std::size_t>(1, std::thread::hardware_concurrency()) : 0;
  std::size_t n = *opts.processes + nodes.size();
  if (n == 0)
    throw std::invalid_argument("troupe::pool: the number of workers must be at least 1 (processes = 0 and no nodes)");
  if (opts.batch == 0) opts.batch = 1;
  // A worker retires after maxtasksperchild tasks: never send it more at once.
  if (opts.maxtasksperchild) opts.batch = std::min(opts.batch, opts.maxtasksperchild);
  actor_ref c = self.spawn(detail::pool_coordinator, opts, std::move(nodes));
  return pool_starter(pool(c, n));
}

std::uint64_t pool::fn_id(detail::erased_function fn) {
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

std::uint64_t pool::submit(actor& self, std::uint64_t fn, std::uint8_t kind, detail::byte_buffer input) {
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

namespace {
// Results come while the coordinator lives; a wait looks now and then.
constexpr auto coordinator_check = std::chrono::milliseconds(100);

detail::pool_protocol::result coordinator_gone(std::uint64_t id) {
  return detail::pool_protocol::result{id, false, detail::encode_failure({}, "the pool's coordinator ended")};
}
}  // namespace

task<std::optional<detail::pool_protocol::result>> pool::wait(actor& self, actor_ref coordinator, std::uint64_t id,
                                                               duration timeout) {
  auto it = arrived_.find(id);
  if (it != arrived_.end()) {
    auto r = std::move(it->second);
    arrived_.erase(it);
    co_return r;
  }
  clock::time_point now = self.node().now();
  clock::time_point deadline = timeout >= clock::time_point::max() - now ? clock::time_point::max()
                               : timeout <= duration::zero()             ? now
                                                                         : now + timeout;
  for (;;) {
    duration left = deadline == clock::time_point::max() ? coordinator_check : deadline - self.node().now();
    auto m = co_await self.receive<detail::pool_result_msg>(std::clamp<duration>(left, duration::zero(), coordinator_check));
    if (!m) {
      if (!self.node().alive(coordinator)) co_return coordinator_gone(id);
      if (self.node().now() >= deadline) co_return std::nullopt;  // (the task goes on)
      continue;
    }
    if (m->r.id == id) co_return std::move(m->r);
    arrived_.emplace(m->r.id, std::move(m->r));
  }
}

void pool::keep(detail::pool_protocol::result r) {
  std::uint64_t id = r.id;
  arrived_.insert_or_assign(id, std::move(r));
}

task<detail::pool_protocol::result> pool::wait_any(actor& self, actor_ref coordinator,
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
    auto m = co_await self.receive<detail::pool_result_msg>(coordinator_check);
    if (!m) {
      if (!self.node().alive(coordinator)) co_return coordinator_gone(ids.begin()->first);
      continue;
    }
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
