// Names of what the shared-memory transport leaves in the system: the
// abstract socket a node listens on, and the segments in /dev/shm with the
// clean-up of those whose creator is gone.
#include "handshake.hpp"

#include <troupe/transport/shm.hpp>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <signal.h>
#include <string>
#include <vector>

namespace bi = boost::interprocess;

namespace troupe {

using shm_detail::hex;

std::string shm_socket_name(std::uint64_t cluster, node_id node) {
  return "troupe-" + hex(cluster) + "-" + hex(node);
}

std::size_t cleanup_stale_segments() {
  std::size_t removed = 0;
  DIR* d = ::opendir("/dev/shm");
  if (!d) return 0;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    // troupe-<cluster hex>-<creator pid>-<n>
    std::string name = e->d_name;
    if (name.rfind("troupe-", 0) != 0) continue;
    auto a = name.find('-', 7);
    if (a == std::string::npos) continue;
    auto b = name.find('-', a + 1);
    if (b == std::string::npos) continue;
    long pid = std::strtol(name.substr(a + 1, b - a - 1).c_str(), nullptr, 10);
    if (pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  ::closedir(d);
  for (auto& n : stale)
    if (bi::shared_memory_object::remove(n.c_str())) ++removed;
  return removed;
}

}  // namespace troupe

