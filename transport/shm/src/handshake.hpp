// The set-up of a shared-memory link: the messages two processes exchange
// over an abstract Unix socket (hello with the segment name and an
// eventfd, mapped, reject), and the socket calls that pass a descriptor.
#pragma once

#include <troupe/transport/wire_format.hpp>

#include <cstdint>
#include <string>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

namespace troupe::shm_detail {

constexpr std::uint32_t hs_magic = 0x4d485354;  // "TSHM"
constexpr std::uint16_t hs_version = 1;

enum hs_type : std::uint16_t { hs_hello = 1, hs_mapped = 2, hs_reject = 3 };

struct hs_msg {
  std::uint32_t magic = hs_magic;
  std::uint16_t type = 0;
  std::uint16_t version = hs_version;
  std::uint64_t cluster = 0;
  std::uint64_t node = 0;
  std::uint64_t ring_bytes = 0;
  std::uint32_t pid = 0;
  std::uint32_t reserved = 0;
  std::byte format[wire_format::encoded_size] = {};
  char segment[64] = {};
  char reason[192] = {};
};

/// The abstract socket address (no file) for `name`.
sockaddr_un abstract_address(const std::string& name, socklen_t& len);
/// Sends one handshake message, passing descriptor `pass_fd` along if >= 0.
bool send_msg(int fd, const hs_msg& m, int pass_fd = -1);
/// Receives one message; returns bytes (0 = peer closed, -1 = would block or
/// error in errno). A passed descriptor lands in `got_fd`.
ssize_t recv_msg(int fd, hs_msg& m, int& got_fd);

/// A node or cluster id as 16 hex digits, as names and messages show them.
std::string hex(std::uint64_t v);

}  // namespace troupe::shm_detail
