// cluster: the documented way to span machines. A head node waits for K
// worker nodes to join over TCP, then computes the SHA-512 of every regular
// file under DIR with a pool whose workers run on the joined nodes, and
// prints what sha512sum would.
//
//   cluster head --listen HOST:PORT --workers K DIR
//   cluster worker --join HOST:PORT
//
// Both read the cluster's secret from TROUPE_COOKIE (or TROUPE_COOKIE_FILE).
// The head reads the files and sends their contents: the workers need no
// shared file system. A worker serves until the head is done, then exits 0.
#include <troupe/actors.hpp>
#include <troupe/troupe.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <boost/serialization/vector.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct worker_hello {
  troupe::node_ref node;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & node;
  }
};
struct all_done {};

}  // namespace

TROUPE_MESSAGE(worker_hello);
TROUPE_MESSAGE(all_done);

namespace {

std::string sha512_of(std::vector<char> bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha512(), nullptr);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}
TROUPE_TASK(sha512_of);

std::vector<std::string> regular_files(const std::string& dir, int& errors) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) {
    std::fprintf(stderr, "cluster: %s: %s\n", dir.c_str(), ec.message().c_str());
    ++errors;
    return files;
  }
  while (it != end) {
    std::error_code e;
    if (it->is_symlink(e))
      it.disable_recursion_pending();
    else if (it->is_regular_file(e))
      files.push_back(it->path().string());
    it.increment(e);
    if (e) {
      std::fprintf(stderr, "cluster: %s\n", e.message().c_str());
      ++errors;
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool read_file(const std::string& path, std::vector<char>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

troupe::task<int> head(troupe::actor& self, std::size_t workers, std::string dir) {
  self.register_name("cluster-head");
  std::vector<troupe::node_ref> nodes;
  std::vector<troupe::actor_ref> roots;
  for (auto& [name, value] : self.node().child_environment())
    if (name == "TROUPE_JOIN") std::fprintf(stderr, "cluster: listening on %s\n", value.c_str());
  std::fprintf(stderr, "cluster: waiting for %zu worker%s\n", workers, workers == 1 ? "" : "s");
  while (nodes.size() < workers) {
    auto h = co_await self.receive<worker_hello>();
    nodes.push_back(h->node);
    roots.push_back(h.sender());
    std::fprintf(stderr, "cluster: worker %zu of %zu joined (node %s)\n", nodes.size(), workers,
                 troupe::node_id_string(h->node.id).c_str());
  }
  int errors = 0;
  std::vector<std::string> files = regular_files(dir, errors);
  troupe::pool_options opts{.processes = 0, .batch = 4, .nodes = nodes};  // (a variable: g++ 12, docs/guide.md)
  troupe::pool p = co_await troupe::pool::start(self, std::move(opts));
  
  std::vector<std::string> digests(files.size());
  std::vector<bool> ok(files.size(), false);
  // A window of files in flight: contents are read as the pool makes room.
  std::deque<std::pair<std::size_t, troupe::pool_future<std::string>>> in_flight;
  const std::size_t window = 16 * nodes.size();
  std::size_t next = 0;
  while (next < files.size() || !in_flight.empty()) {
    while (next < files.size() && in_flight.size() < window) {
      std::vector<char> content;
      if (!read_file(files[next], content)) {
        std::fprintf(stderr, "cluster: %s: %s\n", files[next].c_str(), std::strerror(errno));
        ++errors;
        ++next;
        continue;
      }
      in_flight.emplace_back(next, p.apply_async(self, sha512_of, std::move(content)));
      ++next;
    }
    if (in_flight.empty()) break;
    auto [i, f] = std::move(in_flight.front());
    in_flight.pop_front();
    digests[i] = co_await f.get(self);
    ok[i] = true;
  }
  for (std::size_t i = 0; i < files.size(); ++i)
    if (ok[i]) std::printf("%s  %s\n", digests[i].c_str(), files[i].c_str());
  std::fflush(stdout);
  p.close(self);
  co_await p.join(self);
  for (auto r : roots) self.send(r, all_done{});
  co_await self.sleep_for(std::chrono::milliseconds(50));  // let the goodbyes leave
  co_return errors ? 1 : 0;
}

troupe::task<int> worker(troupe::actor& self) {
  std::optional<troupe::actor_ref> h;
  for (int i = 0; i < 3000 && !h; ++i) {
    h = co_await self.lookup("cluster-head", std::chrono::seconds(5));
    if (!h) co_await self.sleep_for(std::chrono::milliseconds(10));
  }
  if (!h) {
    std::fprintf(stderr, "cluster: no head found in the cluster\n");
    co_return 1;
  }
  self.monitor(*h);
  self.send(*h, worker_hello{troupe::node_ref{self.node().id()}});
  int code = 0;
  co_await self.receive([](const all_done&) {},
                        [&](const troupe::down& d) {
                          std::fprintf(stderr, "cluster: the head went away (%s)\n", d.detail.c_str());
                          code = 1;
                        });
  co_return code;
}

void usage(FILE* out) {
  std::fprintf(out,
               "usage: cluster head --listen HOST:PORT --workers K DIR\n"
               "       cluster worker --join HOST:PORT\n"
               "  The head waits for K workers, then prints the SHA-512 of every regular file\n"
               "  under DIR as sha512sum does, computed on the workers. The secret comes from\n"
               "  TROUPE_COOKIE or TROUPE_COOKIE_FILE (readable by its owner only).\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (troupe::is_worker_process()) return troupe::run(argc, argv, nullptr);
  if (argc < 2) return usage(stderr), 2;
  std::string role = argv[1];
  if (role == "--help" || role == "-h") return usage(stdout), 0;
  std::string listen, join, dir;
  std::size_t workers = 0;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--listen" && i + 1 < argc)
      listen = argv[++i];
    else if (a == "--join" && i + 1 < argc)
      join = argv[++i];
    else if (a == "--workers" && i + 1 < argc)
      workers = std::strtoul(argv[++i], nullptr, 10);
    else if (!a.empty() && a[0] != '-' && dir.empty())
      dir = a;
    else
      return usage(stderr), 2;
  }
  if (role == "head") {
    if (listen.empty() || workers == 0 || dir.empty()) return usage(stderr), 2;
    ::setenv("TROUPE_LISTEN", listen.c_str(), 1);
    return troupe::run(argc, argv, [&](troupe::actor& self) { return head(self, workers, dir); });
  }
  if (role == "worker") {
    if (join.empty()) return usage(stderr), 2;
    ::setenv("TROUPE_JOIN", join.c_str(), 1);
    // A worker listens too (any port, on loopback unless TROUPE_LISTEN says
    // otherwise), so that every node can reach it directly.
    ::setenv("TROUPE_LISTEN", "127.0.0.1:0", 0);
    return troupe::run(argc, argv, worker);
  }
  return usage(stderr), 2;
}
