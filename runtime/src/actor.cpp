#include <troupe/detail/process_manager.hpp>
#include <troupe/detail/system_messages.hpp>
#include <troupe/node.hpp>

namespace troupe {

void actor::monitor(actor_ref target) { node_->monitor(this, target); }

void actor::demonitor(actor_ref target) { node_->demonitor(this, target); }

bool actor::register_name(std::string name) { return node_->register_name(this, std::move(name)); }

std::optional<actor_ref> actor::whereis(std::string_view name) const { return node_->whereis(name); }

void actor::kill(actor_ref target) { node_->kill(target); }

spawn_process_awaiter actor::spawn_process() { return spawn_process(process_options{}); }

spawn_process_awaiter actor::spawn_process(process_options opts) {
  if (!node_->processes_) throw spawn_error("this node cannot start processes (run the program with troupe::run)");
  duration timeout = opts.start_timeout;
  return spawn_process_awaiter(*this, node_->processes_->spawn(opts, {}, detail::byte_buffer{}), timeout);
}

lookup_awaiter actor::lookup(std::string name, duration timeout) {
  if (auto r = node_->whereis(name)) return lookup_awaiter(r, std::nullopt);
  node_id root = node_->root_id();
  if (root == node_->id()) return lookup_awaiter(std::nullopt, std::nullopt);
  std::uint64_t correlation = node_->begin_request(this);
  node_->post_system(ref_, root, detail::sys::lookup{std::move(name)}, correlation, frame_flags::request);
  return lookup_awaiter(std::nullopt, request_awaiter<detail::sys::lookup_reply>(
                                          *this, actor_ref{root, 0}, correlation,
                                          deadline_after(node_->now(), timeout), std::nullopt));
}

// --- process handle -------------------------------------------------------------

pid_t process::pid() const noexcept { return s_ ? s_->pid : 0; }
const std::string& process::name() const noexcept {
  static const std::string none;
  return s_ ? s_->name : none;
}
node_ref process::node() const noexcept { return node_ref{s_ ? s_->node : 0}; }
actor_ref process::main_actor() const noexcept {
  return s_ && s_->has_main ? actor_ref{s_->node, detail::main_actor_id} : actor_ref{};
}
bool process::daemon() const noexcept { return s_ && s_->daemon; }
bool process::is_alive() const noexcept { return s_ && !s_->exited; }
std::optional<int> process::exitcode() const noexcept {
  if (!s_ || !s_->exited) return std::nullopt;
  return s_->exitcode;
}
void process::terminate() const noexcept {
  if (s_ && !s_->exited) ::kill(s_->pid, SIGTERM);
}
void process::kill() const noexcept {
  if (s_ && !s_->exited) ::kill(s_->pid, SIGKILL);
}

}  // namespace troupe
