#include "handshake.hpp"

#include <cstdio>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace troupe::tcp_detail {

std::string hex(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::array<std::byte, 32> proof_of(const std::string& secret, const char* role, const std::array<std::byte, 32>& a,
                                   const std::array<std::byte, 32>& b, node_id x, node_id y) {
  std::string msg = std::string("troupe-tcp-1|") + role + "|";
  msg.append(reinterpret_cast<const char*>(a.data()), a.size());
  msg.append(reinterpret_cast<const char*>(b.data()), b.size());
  for (node_id n : {x, y})
    for (int i = 0; i < 8; ++i) msg.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  std::array<std::byte, 32> out{};
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), reinterpret_cast<unsigned char*>(out.data()), &len);
  return out;
}

}  // namespace troupe::tcp_detail
