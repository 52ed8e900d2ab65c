// troupe::supervisor — restarts children that fail, Erlang style
// (one-for-one): each child is restarted on its own, as often as
// `max_restarts` within `within` allows; past that the supervisor gives up
// and ends with an error, so whoever supervises or monitors it sees that.
//
//   std::vector<troupe::child_spec> children{
//     {"db", [](troupe::actor& s) -> troupe::task<troupe::actor_ref> {
//        co_return s.spawn(troupe::spawn_options{.name = "db"}, db); }},
//   };
//   auto sup = self.spawn(troupe::supervisor, children, troupe::supervisor_options{});
#pragma once

#include <troupe/troupe.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace troupe {

struct child_spec {
  std::string name;  // for logs and errors
  /// Starts the child (here, in a process, or on another node) and gives its address.
  std::function<task<actor_ref>(actor& self)> start;
  /// A child that ends normally is not restarted unless this is set.
  bool restart_on_normal_exit = false;
};

struct supervisor_options {
  int max_restarts = 3;
  duration within = std::chrono::seconds(5);
};

/// Thrown by a supervisor that exceeded its restart limit.
class restart_limit_exceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Stops its children (kills them) when it ends; ends when every child has
/// ended normally and none is to be restarted.
inline task<void> supervisor(actor& self, std::vector<child_spec> children, supervisor_options opts) {
  std::vector<actor_ref> refs(children.size());
  std::deque<clock::time_point> restarts;
  struct stopper {
    actor& self;
    std::vector<actor_ref>& refs;
    ~stopper() {
      for (auto r : refs)
        if (r) self.kill(r);
    }
  } guard{self, refs};
  for (std::size_t i = 0; i < children.size(); ++i) {
    refs[i] = co_await children[i].start(self);
    self.monitor(refs[i]);
  }
  std::size_t running = children.size();
  while (running > 0) {
    auto d = co_await self.receive<down>();
    std::size_t i = 0;
    while (i < refs.size() && refs[i] != d->actor) ++i;
    if (i == refs.size()) continue;
    refs[i] = actor_ref{};
    bool failed = d->reason != exit_reason::normal;
    if (!failed && !children[i].restart_on_normal_exit) {
      --running;
      continue;
    }
    if (d->reason == exit_reason::shutdown) {  // the node is going down: no restarts
      --running;
      continue;
    }
    auto now = self.node().now();
    while (!restarts.empty() && now - restarts.front() > opts.within) restarts.pop_front();
    if (static_cast<int>(restarts.size()) >= opts.max_restarts)
      throw restart_limit_exceeded("child " + children[i].name + " failed " + std::to_string(restarts.size() + 1) +
                                   " times within the restart window (last: " + to_string(d->reason) +
                                   (d->detail.empty() ? "" : ": " + d->detail) + ")");
    restarts.push_back(now);
    TROUPE_LOG(info) << "supervisor " << self.ref() << ": restarting " << children[i].name << " ("
                     << to_string(d->reason) << (d->detail.empty() ? "" : ": " + d->detail) << ")";
    refs[i] = co_await children[i].start(self);
    self.monitor(refs[i]);
  }
}

}  // namespace troupe
