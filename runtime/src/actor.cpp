#include <troupe/node.hpp>

namespace troupe {

void actor::monitor(actor_ref target) { node_->monitor(this, target); }

void actor::demonitor(actor_ref target) { node_->demonitor(this, target); }

bool actor::register_name(std::string name) { return node_->register_name(this, std::move(name)); }

std::optional<actor_ref> actor::whereis(std::string_view name) const { return node_->whereis(name); }

void actor::kill(actor_ref target) { node_->kill(target); }

}  // namespace troupe
