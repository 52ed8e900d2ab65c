// Shared by the multi-process tests. The test binary is also the worker
// binary: a process started by spawn_process re-executes it, and main()
// turns it into a worker node before GoogleTest sees it.
#pragma once

#include <troupe/transport/shm.hpp>
#include <troupe/transport/tcp.hpp>
#include <troupe/troupe.hpp>

#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <atomic>
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string>
#include <thread>
#include <vector>

namespace itest {

extern int argc;
extern char** argv;
extern std::atomic<int> custom_transport_connects;
/// Clusters the current test started (other tests may run in parallel).
inline std::vector<std::uint64_t> clusters;

/// Runs `root` as the root actor of a fresh troupe program in this process.
template <class F>
int run_program(F&& root) {
  return troupe::run(itest::argc, itest::argv, [&root](troupe::actor& self) {
    clusters.push_back(self.node().cluster_id());
    return root(self);
  });
}

/// Names in /dev/shm that belong to troupe (to the clusters of this test
/// when `mine` is set).
inline std::vector<std::string> troupe_segments(bool mine = false) {
  std::vector<std::string> v;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind("troupe-", 0) != 0) continue;
      bool ours = !mine;
      for (auto c : clusters) ours |= n.rfind("troupe-" + troupe::node_id_string(c) + "-", 0) == 0;
      if (ours) v.push_back(n);
    }
    closedir(d);
  }
  return v;
}

/// True once `pid` is gone (or a zombie nobody reaps).
inline bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return true;
  int p;
  char comm[256], state = 0;
  bool zombie = std::fscanf(f, "%d %255s %c", &p, comm, &state) == 3 && state == 'Z';
  std::fclose(f);
  return zombie;
}

/// Polls `cond` for up to `limit` (a bound for hangs, not a timing assertion).
template <class F>
bool eventually(F cond, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

/// Every multi-process test checks that nothing of the project stays in
/// /dev/shm and that no child outlives it.
class process_test : public ::testing::Test {
 protected:
  void SetUp() override { clusters.clear(); }
  // A process killed in the middle of setting up a link may leave a name
  // behind, which the next node to start removes (it belongs to a dead
  // process); anything else left is a leak.
  void TearDown() override {
    if (!eventually([] { return troupe_segments(true).empty(); }, std::chrono::seconds(2)))
      troupe::cleanup_stale_segments();
    EXPECT_TRUE(troupe_segments(true).empty())
        << "left in /dev/shm by a live process: " << troupe_segments(true).front();
  }
};

// Each test runs a root node listening on loopback, with a fresh secret.
struct tcp_env {
  explicit tcp_env(std::string secret = "secret-" + std::to_string(::getpid())) {
    ::setenv("TROUPE_LISTEN", "127.0.0.1:0", 1);
    ::setenv("TROUPE_COOKIE", secret.c_str(), 1);
    ::setenv("TROUPE_HEARTBEAT_MS", "100", 1);
    ::setenv("TROUPE_HANDSHAKE_TIMEOUT_MS", "500", 1);
  }
  ~tcp_env() {
    for (const char* k : {"TROUPE_LISTEN", "TROUPE_COOKIE", "TROUPE_HEARTBEAT_MS", "TROUPE_HANDSHAKE_TIMEOUT_MS"})
      ::unsetenv(k);
  }
};

inline std::uint16_t listen_port(troupe::actor& self) {
  for (auto& [name, value] : self.node().child_environment())
    if (name == "TROUPE_JOIN") return troupe::tcp_endpoint::parse(value).port;
  return 0;
}

// A child node that talks to us over TCP only; `env` must outlive the spawn call.
using env_list = std::vector<std::pair<std::string, std::string>>;
inline troupe::process_options tcp_child(env_list& env) {
  env.emplace_back("TROUPE_TRANSPORTS", "tcp");
  troupe::process_options o;
  o.env = env;
  return o;
}

struct seq {
  std::uint32_t sender = 0;
  std::uint64_t n = 0;
};
struct blob {
  std::uint64_t checksum = 0;
  std::vector<char> bytes;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & checksum & bytes;
  }
};
struct note {
  std::string text;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & text;
  }
};
struct done {};

inline std::uint64_t checksum(const std::vector<char>& v) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : v) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

}  // namespace itest

TROUPE_MESSAGE(itest::seq);
TROUPE_MESSAGE(itest::blob);
TROUPE_MESSAGE(itest::note);
TROUPE_MESSAGE(itest::done);
