// Addresses and the cluster secret, as a user gives them.
#include <troupe/transport/tcp.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace troupe {

tcp_endpoint tcp_endpoint::parse(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument("bad address \"" + text + "\" (want [HOST]:PORT)");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("bad address \"" + text + "\" (want HOST:PORT)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (host.empty() || port.empty() || *end || p < 0 || p > 65535)
    throw std::invalid_argument("bad address \"" + text + "\" (want HOST:PORT)");
  return tcp_endpoint{host, static_cast<std::uint16_t>(p)};
}

std::string load_cluster_secret() {
  if (const char* c = std::getenv("TROUPE_COOKIE"); c && *c) return c;
  const char* file = std::getenv("TROUPE_COOKIE_FILE");
  if (!file || !*file) return {};
  struct stat st{};
  if (::stat(file, &st) != 0)
    throw std::runtime_error(std::string("cannot read the cluster secret file ") + file + ": " + std::strerror(errno));
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    throw std::runtime_error(std::string("the cluster secret file ") + file +
                             " is readable by others; make it readable by its owner only (chmod 600)");
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  std::string secret = s.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) throw std::runtime_error(std::string("the cluster secret file ") + file + " is empty");
  return secret;
}

}  // namespace troupe
