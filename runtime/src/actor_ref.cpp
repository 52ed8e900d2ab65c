#include <troupe/actor_ref.hpp>

#include <cstdio>
#include <ostream>

namespace troupe {

std::string node_id_string(node_id n) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(n));
  return buf;
}

std::string actor_ref::to_string() const {
  return node_id_string(node) + "/" + std::to_string(static_cast<std::uint32_t>(id)) + "." +
         std::to_string(static_cast<std::uint32_t>(id >> 32));
}

std::ostream& operator<<(std::ostream& os, const actor_ref& r) { return os << r.to_string(); }

}  // namespace troupe
