// actor::join_all: a helper actor monitors the targets and answers the
// waiter's request once each has ended, so the waiter's own monitors and
// mailbox stay untouched (its own `down` messages are not consumed).
#include <troupe/node.hpp>

#include <algorithm>

namespace troupe {
namespace {

task<void> join_helper(actor& self, std::vector<actor_ref> targets, actor_ref waiter) {
  std::vector<actor_ref> unique = targets;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  std::vector<std::optional<down>> ended(unique.size());
  auto index = [&](actor_ref r) -> std::size_t {
    auto it = std::lower_bound(unique.begin(), unique.end(), r);
    return it != unique.end() && *it == r ? static_cast<std::size_t>(it - unique.begin()) : unique.size();
  };
  auto request = co_await self.receive<detail::join_request>();
  bool waiter_is_target = index(waiter) != unique.size();
  if (!waiter_is_target) self.monitor(waiter);  // gone: nobody to answer
  for (actor_ref r : unique) self.monitor(r);
  for (std::size_t left = unique.size(); left > 0;) {
    auto d = co_await self.receive<down>();
    std::size_t i = index(d->actor);
    if (i == unique.size()) {
      if (d->actor == waiter) co_return;
      continue;
    }
    if (ended[i]) continue;
    ended[i] = std::move(*d);
    --left;
  }
  detail::join_reply reply;
  reply.downs.reserve(targets.size());
  for (actor_ref r : targets) reply.downs.push_back(*ended[index(r)]);
  self.reply(request, std::move(reply));
}

template <bool Timed>
join_all_awaiter<Timed> start_join(actor& self, std::vector<actor_ref> targets, duration timeout) {
  if (targets.empty()) return join_all_awaiter<Timed>(self, actor_ref{}, std::nullopt);
  actor_ref helper = self.spawn(join_helper, std::move(targets), self.ref());
  return join_all_awaiter<Timed>(self, helper, self.request<detail::join_reply>(helper, detail::join_request{}, timeout));
}

}  // namespace

join_all_awaiter<false> actor::join_all(std::vector<actor_ref> actors) {
  return start_join<false>(*this, std::move(actors), duration::max());
}

join_all_awaiter<true> actor::join_all(std::vector<actor_ref> actors, duration timeout) {
  return start_join<true>(*this, std::move(actors), timeout);
}

}  // namespace troupe
