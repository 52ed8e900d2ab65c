#include "handshake.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace troupe::shm_detail {

std::string hex(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

sockaddr_un abstract_address(const std::string& name, socklen_t& len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  a.sun_path[0] = '\0';
  std::memcpy(a.sun_path + 1, name.data(), std::min(name.size(), sizeof(a.sun_path) - 2));
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + std::min(name.size(), sizeof(a.sun_path) - 2));
  return a;
}

bool send_msg(int fd, const hs_msg& m, int pass_fd) {
  iovec iov{const_cast<hs_msg*>(&m), sizeof m};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  return ::sendmsg(fd, &h, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof m);
}

ssize_t recv_msg(int fd, hs_msg& m, int& got_fd) {
  iovec iov{&m, sizeof m};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  h.msg_control = control;
  h.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(fd, &h, MSG_CMSG_CLOEXEC);
  if (n > 0)
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int passed;
        std::memcpy(&passed, CMSG_DATA(c), sizeof(int));
        if (got_fd >= 0) ::close(got_fd);
        got_fd = passed;
      }
  return n;
}

}  // namespace troupe::shm_detail
