#include <troupe/actor_registry.hpp>
#include <troupe/detail/process_manager.hpp>
#include <troupe/detail/router.hpp>
#include <troupe/detail/system_messages.hpp>
#include <troupe/log.hpp>
#include <troupe/node.hpp>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace troupe::detail {
namespace {

constexpr std::size_t pending_bound = 8u << 20;       // bytes queued while a link is being set up
constexpr std::size_t scratch_keep = 16u << 20;       // larger scratch buffers are released after use

}  // namespace

router::router(node& n) : node_(n) {}

router::~router() { stop(); }

void router::add_transport(std::unique_ptr<transport> t) {
  transport& ref = *t;
  transports_.push_back(std::move(t));
  ref.start(*this);
}

void router::stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& t : transports_) t->stop();
  last_peer_ = nullptr;
  forget_flows();
  peers_.clear();
  transports_.clear();
}

asio::io_context& router::io_context() { return node_.io_context(); }
node_id router::local_node() const { return node_.id(); }
std::uint64_t router::cluster_id() const { return node_.cluster_id(); }
const frame_limits& router::limits() const { return node_.opts_.limits; }

router::peer& router::peer_for(node_id id) {
  if (last_peer_ && last_peer_->id == id) return *last_peer_;
  auto& p = peers_[id];
  if (!p) {
    p = std::make_unique<peer>();
    p->id = id;
  }
  last_peer_ = p.get();
  return *p;
}

void router::run_ready() { node_.run_ready(); }

void router::request_flush(transport& t) {
  if (std::find(to_flush_.begin(), to_flush_.end(), &t) == to_flush_.end()) to_flush_.push_back(&t);
}

void router::flush_now() {
  auto list = std::move(to_flush_);
  to_flush_.clear();
  for (transport* t : list) t->flush();
}

bool router::may_receive() const noexcept {
  if (!peers_.empty()) return true;
  for (auto& t : transports_)
    if (t->expects_peers()) return true;
  return false;
}

bool router::has_pending() const noexcept {
  for (auto& [id, p] : peers_)
    if (!p->pending.empty() || (!p->links.empty() && p->links.front()->has_unsent())) return true;
  return false;
}

void router::connect(node_id id) {
  peer& p = peer_for(id);
  if (p.links.empty() && !p.connecting) try_connect(p);
}

void router::expect(node_id id) {
  peer& p = peer_for(id);
  if (p.links.empty()) p.connecting = true;
}

bool router::connected(node_id id) const {
  auto it = peers_.find(id);
  return it != peers_.end() && !it->second->links.empty();
}

bool router::congested(const peer& p) const noexcept {
  if (!p.links.empty()) return p.links.front()->congested();
  return p.pending_bytes > pending_bound;
}

// --- sending -------------------------------------------------------------------------

bool router::send(actor_ref from, actor_ref to, const message_type& t, const void* value, std::uint64_t correlation,
                  std::uint8_t flags) {
  if (stopping_) return false;
  // A trivially copyable message is its own payload: no copy before the link's.
  std::span<const std::byte> body;
  if (t.raw) {
    body = std::span(static_cast<const std::byte*>(value), t.size);
  } else {
    scratch_.clear();
    t.serialize(value, scratch_);
    body = scratch_.span();
  }
  if (body.size() > limits().max_payload) {
    std::size_t n = body.size();
    scratch_.clear();
    scratch_.shrink_if_above(scratch_keep);
    throw std::length_error("message of type " + std::string(t.name) + " is " + std::to_string(n) +
                            " bytes, over the frame limit of " + std::to_string(limits().max_payload));
  }
  frame_header h;
  h.flags = static_cast<std::uint8_t>(flags | (t.raw ? frame_flags::raw : 0));
  h.payload_size = static_cast<std::uint32_t>(body.size());
  h.type = t.id;
  h.dst_node = to.node;
  h.dst_actor = to.id;
  h.src_node = node_.id();
  h.src_actor = from.id;
  h.correlation = correlation;
  std::array<std::byte, frame_header::size> hdr;
  encode_header(h, hdr);
  if ((flags & frame_flags::request) && from) inflight_[correlation] = {from, to.node};

  auto queue = [&](peer& p) {
    byte_buffer copy;
    copy.reserve(hdr.size() + body.size());
    copy.append(hdr.data(), hdr.size());
    copy.append(body.data(), body.size());
    p.pending_bytes += copy.size();
    p.pending.push_back(std::move(copy));
  };
  peer& p = peer_for(to.node);
  // What goes to an actor's mailbox counts against its window (replies
  // have their place in the requester's table, control messages none).
  bool over_window = false;
  if (!(flags & (frame_flags::system | frame_flags::response)) && to.id) {
    flow& f = flow_for(p, to.id);
    f.messages -= 1;
    f.bytes -= static_cast<std::int64_t>(hdr.size() + body.size());
    over_window = f.exhausted();
  }
  bool result;
  if (!p.links.empty()) {
    auto r = p.links.front()->send(hdr, body);
    result = r == link::send_result::congested;
    if (r == link::send_result::closed) {
      // The link noticed its end before telling us; queue and let link_down sort it out.
      queue(p);
      result = congested(p);
    }
    // Another sender's frame may have drained the link meanwhile: whoever
    // waits for room must hear of it (the link only reports writable
    // from its own poll).
    if (!result && p.blocked.head) wake_blocked(p.blocked);
  } else {
    queue(p);
    if (!p.connecting) try_connect(p);
    result = peers_.count(to.node) && congested(p);
  }
  if (!t.raw) {
    scratch_.clear();
    scratch_.shrink_if_above(scratch_keep);
  }
  return result || over_window;
}

flow& router::find_flow(peer& p, actor_id to) {
  flow& f = p.flows[to];
  last_flow_ = &f;
  last_flow_node_ = p.id;
  last_flow_actor_ = to;
  return f;
}

void router::grant(node_id to, actor_id who, std::uint32_t messages, std::uint64_t bytes) {
  if (stopping_ || !peers_.count(to)) return;  // (a node that is gone needs none)
  send_system(actor_ref{node_.id(), who}, to, sys::credit{who, bytes, messages, 0});
}

void router::credited(node_id from, actor_id target, std::uint32_t messages, std::uint64_t bytes) {
  auto it = peers_.find(from);
  if (it == peers_.end()) return;
  peer& p = *it->second;
  auto f = p.flows.find(target);
  if (f == p.flows.end()) return;
  f->second.messages += messages;
  f->second.bytes += static_cast<std::int64_t>(bytes);
  if (!f->second.exhausted() && f->second.blocked.head) wake_blocked(f->second.blocked);
  // Everything sent was taken: nothing to remember about this receiver.
  if (f->second.full() && !f->second.blocked.head) {
    if (last_flow_ == &f->second) forget_flows();
    p.flows.erase(f);
  }
}

void router::try_connect(peer& p) {
  node_id id = p.id;
  while (p.next_transport < transports_.size()) {
    transport& t = *transports_[p.next_transport++];
    p.connecting = true;
    if (t.connect(id)) return;
    p.connecting = false;
  }
  std::string reason = "no transport can reach node " + node_id_string(id);
  // A child process whose link is gone is about to be reaped: its exit
  // status says more (and how its main actor ended) than this.
  if (explainer_ && explainer_(id, reason)) return;
  fail_peer(id, reason);
}

void router::flush_pending(peer& p) {
  // A link may call back (link_writable) while we hand it frames: the
  // outer call finishes the job.
  if (flushing_) return;
  flushing_ = true;
  struct reset {
    bool& b;
    ~reset() { b = false; }
  } guard{flushing_};
  while (!p.pending.empty() && !p.links.empty()) {
    byte_buffer& f = p.pending.front();
    auto r = p.links.front()->send(std::span<const std::byte, frame_header::size>(f.data(), frame_header::size),
                                   std::span<const std::byte>(f.data() + frame_header::size, f.size() - frame_header::size));
    if (r == link::send_result::closed) return;
    p.pending_bytes -= f.size();
    p.pending.pop_front();
  }
}

// --- links coming and going ------------------------------------------------------------

void router::link_up(std::shared_ptr<link> l) {
  peer& p = peer_for(l->peer());
  p.connecting = false;
  p.next_transport = 0;
  p.links.push_back(std::move(l));
  flush_pending(p);
  if (!congested(p)) wake_blocked(p.blocked);
  if (p.links.size() == 1 && node_.processes_) node_.processes_->on_peer_up(p.id);
}

void router::connect_failed(node_id id, const std::string& reason) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  peer& p = *it->second;
  p.connecting = false;
  if (!p.links.empty()) return;
  TROUPE_LOG(debug) << "connecting to node " << node_id_string(id) << " failed: " << reason;
  if (p.next_transport < transports_.size())
    try_connect(p);
  else
    fail_peer(id, reason);
}

void router::link_down(link& l, const std::string& reason) {
  auto it = peers_.find(l.peer());
  if (it == peers_.end()) return;
  peer& p = *it->second;
  auto pos = std::find_if(p.links.begin(), p.links.end(), [&](auto& x) { return x.get() == &l; });
  if (pos == p.links.end()) return;
  std::shared_ptr<link> keep = *pos;  // the link may be destroyed by the erase otherwise
  bool was_sending = pos == p.links.begin();
  p.links.erase(pos);
  if (!p.links.empty()) {
    if (was_sending) {
      // Frames still queued in the lost link are gone: requests to that
      // peer fail now (they may or may not have been delivered) rather than
      // wait for a reply that may never come, and the windows start afresh
      // (credit for what was lost would never come back).
      for (auto& [target, f] : p.flows) {
        f.messages = flow_window_messages;
        f.bytes = flow_window_bytes;
        wake_blocked(f.blocked);
      }
      node_id id = p.id;
      for (auto i = inflight_.begin(); i != inflight_.end();) {
        if (i->second.second == id) {
          node_.answer_failed_request(i->second.first, i->first, actor_ref{id, 0}, request_errc::unreachable,
                                      "the link to node " + node_id_string(id) + " was lost: " + reason);
          i = inflight_.erase(i);
        } else {
          ++i;
        }
      }
    }
    flush_pending(p);
    if (!congested(p)) wake_blocked(p.blocked);
    return;
  }
  if (stopping_) return;
  TROUPE_LOG(info) << "link down: " << l.describe() << ": " << reason;
  node_id id = l.peer();
  if (explainer_ && explainer_(id, reason)) return;  // the process layer reports the exit itself
  fail_peer(id, reason);
}

void router::peer_gone(node_id id, const std::string& reason) {
  auto it = peers_.find(id);
  if (it != peers_.end()) {
    auto links = it->second->links;
    for (auto& l : links) l->close(reason);
  }
  fail_peer(id, reason);
}

void router::link_writable(link& l) {
  auto it = peers_.find(l.peer());
  if (it == peers_.end()) return;
  peer& p = *it->second;
  flush_pending(p);
  if (!congested(p)) wake_blocked(p.blocked);
}

void router::fail_peer(node_id id, const std::string& reason) {
  auto it = peers_.find(id);
  std::unique_ptr<peer> gone;
  last_peer_ = nullptr;
  forget_flows();
  if (it != peers_.end()) {
    gone = std::move(it->second);
    peers_.erase(it);
  }
  std::string text = "node " + node_id_string(id) + " unreachable: " + reason;
  if (gone) {
    for (auto& [target, watcher] : gone->monitors) {
      down d{actor_ref{id, target}, exit_reason::unreachable, reason};
      if (auto* pm = node_.processes()) pm->explain_end(d);  // a main actor: its exit code tells
      (void)node_.post_message(d.actor, watcher, std::move(d), 0, 0);
    }
    node_.dead_letters_ += gone->pending.size();
    wake_blocked(gone->blocked);
    for (auto& [target, f] : gone->flows) wake_blocked(f.blocked);
  }
  for (auto i = inflight_.begin(); i != inflight_.end();) {
    if (i->second.second == id) {
      node_.answer_failed_request(i->second.first, i->first, actor_ref{id, 0}, request_errc::unreachable, text);
      i = inflight_.erase(i);
    } else {
      ++i;
    }
  }
  node_.names_of_node_gone(id);
  // Watchers on the lost node will never hear from us again.
  for (std::size_t i = 1; i < node_.slots_.size(); ++i)
    if (actor* a = node_.slots_[i].a)
      std::erase_if(a->watchers_, [id](const watcher& w) { return w.who.node == id && w.correlation == 0; });
  node_.idle_check();
}

void router::wake_blocked(blocked_list& l) noexcept {
  actor* s = std::exchange(l.head, nullptr);
  while (s) {
    actor* next = std::exchange(s->blocked_next_, nullptr);
    s->blocked_on_list_ = nullptr;
    if (s->wait_ == wait_kind::send) node_.make_ready(s);
    s = next;
  }
}

void router::block_on(actor* self, actor_ref target) {
  auto it = peers_.find(target.node);
  if (it == peers_.end()) return;
  peer& p = *it->second;
  blocked_list* list = nullptr;
  if (congested(p)) {
    list = &p.blocked;
  } else if (auto f = p.flows.find(target.id); f != p.flows.end() && f->second.exhausted()) {
    list = &f->second.blocked;
  }
  if (!list) return;
  self->blocked_on_list_ = list;
  self->blocked_next_ = list->head;
  list->head = self;
}

void router::unblock(actor* a) noexcept {
  blocked_list* l = std::exchange(a->blocked_on_list_, nullptr);
  if (!l) return;
  actor** cur = &l->head;
  while (*cur && *cur != a) cur = &(*cur)->blocked_next_;
  if (*cur) *cur = a->blocked_next_;
  a->blocked_next_ = nullptr;
}

// --- remote monitors and control ----------------------------------------------------------

void router::monitor(actor_ref watcher, actor_ref target) {
  peer_for(target.node).monitors.emplace(target.id, watcher);
  send_system(watcher, target.node, sys::monitor{target, watcher});
}

void router::demonitor(actor_ref watcher, actor_ref target) {
  auto it = peers_.find(target.node);
  if (it == peers_.end()) return;
  auto range = it->second->monitors.equal_range(target.id);
  for (auto i = range.first; i != range.second; ++i)
    if (i->second == watcher) {
      it->second->monitors.erase(i);
      break;
    }
  send_system(watcher, target.node, sys::demonitor{target, watcher});
}

void router::kill_remote(actor_ref target, exit_reason why) {
  send_system(actor_ref{node_.id(), 0}, target.node, sys::kill{target, why});
}

void router::actor_ended(actor_ref, exit_reason, const std::string&) {
  // Remote watchers were in the actor's watcher list and got their `down`
  // through send(); nothing else to do here.
}

// --- inbound ---------------------------------------------------------------------------------

const message_type* router::type_of(type_id id) {
  if (last_type_ && last_type_->id == id) return last_type_;
  auto it = types_.find(id);
  if (it != types_.end()) return last_type_ = it->second;
  const message_type* t = find_message_type(id);
  if (t) types_.emplace(id, t);
  return last_type_ = t;
}

void router::deliver(link& from, const frame_header& h, std::span<const std::byte> payload) {
  if (h.dst_node != node_.id())
    throw std::runtime_error("frame for node " + node_id_string(h.dst_node) + " arrived at node " +
                             node_id_string(node_.id()));
  if (h.src_node != from.peer())
    throw std::runtime_error("frame claims to come from node " + node_id_string(h.src_node) + " but the link is to " +
                             node_id_string(from.peer()));
  actor_ref sender{h.src_node, h.src_actor};
  actor_ref target{h.dst_node, h.dst_actor};
  auto refuse = [&](const std::string& why) {
    ++node_.dead_letters_;
    // What would have counted against the sender's window is given back.
    if (!h.has(frame_flags::system) && !h.has(frame_flags::response) && h.dst_actor)
      grant(h.src_node, h.dst_actor, 1, frame_header::size + payload.size());
    TROUPE_LOG(warn) << "dead letter from " << from.describe() << ": " << why;
    if (h.has(frame_flags::request))
      node_.answer_failed_request(sender, h.correlation, target, request_errc::remote_error, why);
    if (h.has(frame_flags::response)) {
      auto i = inflight_.find(h.correlation);
      if (i != inflight_.end()) {
        node_.answer_failed_request(i->second.first, h.correlation, sender, request_errc::remote_error, why);
        inflight_.erase(i);
      }
    }
  };
  const message_type* t = type_of(h.type);
  if (!t) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h.type));
    return refuse(std::string("unknown message type id 0x") + hex + " (is the type registered in this program?)");
  }
  if (t->raw != h.has(frame_flags::raw))
    return refuse("message type " + std::string(t->name) + " is encoded differently by the peer (different builds?)");
  envelope* e;
  try {
    e = t->deserialize(payload);
  } catch (const std::exception& ex) {
    return refuse("cannot deserialize " + std::string(t->name) + ": " + ex.what());
  }
  e->type = t;
  e->sender = sender;
  e->correlation = h.correlation;
  e->flags = h.flags & (frame_flags::request | frame_flags::response);
  e->wire_size = static_cast<std::uint32_t>(frame_header::size + payload.size());
  // Counted against the sending node's window until the actor takes it.
  if (!h.has(frame_flags::system) && !h.has(frame_flags::response) && h.dst_actor) e->flags |= envelope_credited;
  message m(e);

  if (h.has(frame_flags::system)) return handle_system(h, m);
  if (h.has(frame_flags::response)) inflight_.erase(h.correlation);
  if (const down* d = m.get_if<down>()) {
    auto it = peers_.find(h.src_node);
    if (it != peers_.end()) {
      auto range = it->second->monitors.equal_range(d->actor.id);
      for (auto i = range.first; i != range.second; ++i)
        if (i->second == target) {
          it->second->monitors.erase(i);
          break;
        }
    }
  }
  actor* a = node_.lookup(h.dst_actor);
  if (!a) {
    if (e->flags & envelope_credited) grant(h.src_node, h.dst_actor, 1, e->wire_size);  // taken, as it were
    return node_.dead_letter(m.release(), target, "no such actor");
  }
  node_.enqueue(a, m.release());
}

void router::handle_system(const frame_header& h, message& m) {
  actor_ref sender = m.sender();
  actor_ref self{node_.id(), 0};
  if (auto* x = m.get_if<sys::monitor>()) {
    actor* t = x->target.node == node_.id() ? node_.lookup(x->target.id) : nullptr;
    if (t)
      t->watchers_.push_back({x->watcher, 0});
    else
      send_as(x->target, x->watcher, node_.down_of_missing(x->target), 0, 0);
  } else if (auto* x = m.get_if<sys::demonitor>()) {
    if (actor* t = node_.lookup(x->target.id)) {
      auto& w = t->watchers_;
      auto pos = std::find_if(w.begin(), w.end(), [&](const watcher& v) { return v.who == x->watcher && !v.correlation; });
      if (pos != w.end()) w.erase(pos);
    }
  } else if (auto* x = m.get_if<sys::kill>()) {
    node_.kill(x->target, x->reason, "killed by " + node_id_string(h.src_node));
  } else if (auto* x = m.get_if<sys::lookup>()) {
    auto found = node_.whereis(x->name);
    send_as(self, sender, sys::lookup_reply{found.has_value(), found.value_or(actor_ref{})}, h.correlation,
            frame_flags::response);
  } else if (auto* x = m.get_if<sys::spawn>()) {
    const actor_factory* f = find_actor_factory(x->actor_name);
    if (!f) {
      node_.answer_failed_request(sender, h.correlation, self, request_errc::remote_error,
                                  "no actor named \"" + x->actor_name + "\" is registered (TROUPE_ACTOR) on node " +
                                      node_id_string(node_.id()));
      return;
    }
    try {
      spawn_options o;
      o.name = x->register_as;
      o.mailbox_capacity = x->mailbox_capacity;
      actor_ref started = f->start(node_, o, f->fn,
                                   std::span(reinterpret_cast<const std::byte*>(x->args.data()), x->args.size()));
      send_as(self, sender, started, h.correlation, frame_flags::response);
    } catch (const std::exception& e) {
      node_.answer_failed_request(sender, h.correlation, self, request_errc::remote_error,
                                  "cannot start " + x->actor_name + ": " + e.what());
    }
  } else if (auto* x = m.get_if<sys::register_name>()) {
    node_.name_registered(x->ref, x->name);
  } else if (auto* x = m.get_if<sys::unregister_name>()) {
    auto it = node_.global_names_.find(x->name);
    if (it != node_.global_names_.end() && it->second == x->ref) node_.global_names_.erase(it);
  } else if (auto* x = m.get_if<sys::credit>()) {
    credited(h.src_node, x->target, x->messages, x->bytes);
  } else if (auto* x = m.get_if<sys::shutdown>()) {
    TROUPE_LOG(info) << "shutdown asked by node " << node_id_string(h.src_node) << ": " << x->reason;
    node_.shutdown();
  } else if (auto it = system_handlers_.find(m.type()); it != system_handlers_.end()) {
    it->second(h, m);
  } else {
    TROUPE_LOG(warn) << "control message " << m.type_name() << " from node " << node_id_string(h.src_node)
                     << " has no handler here; dropped";
    if (h.has(frame_flags::request))
      node_.answer_failed_request(sender, h.correlation, self, request_errc::remote_error,
                                  "node " + node_id_string(node_.id()) + " cannot handle " + std::string(m.type_name()));
  }
}

}  // namespace troupe::detail
