// pool_digest: SHA-512 of every regular file under DIR, computed by a pool
// of worker processes. Prints what `sha512sum` prints, one line per file,
// sorted by path in byte order, so the output can be compared with
//
//   find DIR -type f | LC_ALL=C sort | xargs sha512sum
//
//   pool_digest DIR [--processes N] [--compare]
#include <troupe/actors.hpp>
#include <troupe/troupe.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <boost/serialization/string.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct digest {
  bool ok = false;
  std::string text;  // the hex digest, or why the file could not be read
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & ok & text;
  }
};

digest sha512_file(std::string path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {false, path + ": " + std::strerror(errno)};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr);
  static thread_local std::vector<unsigned char> buf(1 << 20);  // one buffer per process, not per file
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) EVP_DigestUpdate(ctx, buf.data(), n);
  bool failed = std::ferror(f);
  int err = errno;
  std::fclose(f);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (failed) return {false, path + ": " + std::strerror(err)};
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return {true, out};
}
TROUPE_TASK(sha512_file);

// The files `find DIR -type f` lists: regular files, symbolic links not
// followed. Directories that cannot be read are reported and skipped.
std::vector<std::string> regular_files(const std::string& dir, int& errors) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) {
    std::fprintf(stderr, "pool_digest: %s: %s\n", dir.c_str(), ec.message().c_str());
    ++errors;
    return files;
  }
  while (it != end) {
    std::error_code e;
    if (it->is_symlink(e)) {
      it.disable_recursion_pending();
    } else if (it->is_regular_file(e)) {
      files.push_back(it->path().string());
    }
    it.increment(e);
    if (e) {
      std::fprintf(stderr, "pool_digest: %s: %s\n", it == end ? dir.c_str() : it->path().c_str(), e.message().c_str());
      ++errors;
      if (it != end) it.disable_recursion_pending();
    }
  }
  std::sort(files.begin(), files.end());  // byte order, as LC_ALL=C sort
  return files;
}

void usage(FILE* out) {
  std::fprintf(out,
               "usage: pool_digest DIR [--processes N] [--compare]\n"
               "  SHA-512 of every regular file under DIR (symbolic links not followed),\n"
               "  computed by a pool of N worker processes (default: one per core).\n"
               "  Prints \"<hex>  <path>\" per file, sorted by path, as sha512sum does;\n"
               "  unreadable files are reported on stderr and skipped.\n"
               "  --compare  also time a sequential run, both after an untimed pass that warms\n"
               "             the page cache; times and speedup go to stderr\n");
}

}  // namespace

TROUPE_MESSAGE(digest);

int main(int argc, char** argv) {
  std::string dir;
  std::optional<std::size_t> processes;  // not given: one worker per core
  bool compare = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage(stdout), 0;
    if (a == "--processes" && i + 1 < argc)
      processes = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--compare")
      compare = true;
    else if (!a.empty() && a[0] != '-' && dir.empty())
      dir = a;
    else
      return usage(stderr), 2;
  }
  if (dir.empty() && !troupe::is_worker_process()) return usage(stderr), 2;

  return troupe::run(argc, argv, [&](troupe::actor& self) -> troupe::task<int> {
    using clk = std::chrono::steady_clock;
    int errors = 0;
    std::vector<std::string> files = regular_files(dir, errors);
    bool progress = ::isatty(STDERR_FILENO);
    // Timed runs start from a warm page cache, so that neither side pays
    // for the first reading of the files from disk.
    if (compare)
      for (auto& f : files) (void)sha512_file(f);

    // The pool's run (start-up included, as with Python's Pool); with
    // --compare it is timed `rounds` times, alternating with sequential
    // runs, and the first run's digests are printed.
    const int rounds = compare ? 3 : 1;
    std::vector<double> pool_times, sequential_times;
    std::vector<digest> digests;
    std::size_t workers = 0;
    for (int r = 0; r < rounds; ++r) {
      if (compare && r % 2 == 1) {
        auto t = clk::now();
        for (auto& f : files) (void)sha512_file(f);
        sequential_times.push_back(std::chrono::duration<double>(clk::now() - t).count());
      }
      auto t0 = clk::now();
      troupe::pool_options opts{.processes = processes};  // (a variable: g++ 12, docs/guide.md)
      troupe::pool p = co_await troupe::pool::start(self, std::move(opts));
      workers = p.processes();
      std::size_t chunk = std::max<std::size_t>(1, files.size() / (64 * p.processes()));
      auto results = p.imap(self, sha512_file, files, chunk);
      std::vector<digest> got;
      got.reserve(files.size());
      while (auto d = co_await results.next(self)) {
        got.push_back(std::move(*d));
        if (progress && r == 0 && (got.size() % 256 == 0 || got.size() == files.size()))
          std::fprintf(stderr, "\r%zu/%zu files", got.size(), files.size());
      }
      if (progress && r == 0) std::fprintf(stderr, "\n");
      p.close(self);
      co_await p.join(self);
      pool_times.push_back(std::chrono::duration<double>(clk::now() - t0).count());
      if (r == 0) digests = std::move(got);
      if (compare && r % 2 == 0) {
        auto t = clk::now();
        for (auto& f : files) (void)sha512_file(f);
        sequential_times.push_back(std::chrono::duration<double>(clk::now() - t).count());
      }
    }

    for (std::size_t i = 0; i < files.size(); ++i) {
      if (digests[i].ok) {
        std::printf("%s  %s\n", digests[i].text.c_str(), files[i].c_str());
      } else {
        std::fprintf(stderr, "pool_digest: %s\n", digests[i].text.c_str());
        ++errors;
      }
    }
    std::fflush(stdout);
    if (compare) {
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      double sequential = median(sequential_times), parallel = median(pool_times);
      double speedup = sequential / parallel;
      std::fprintf(stderr, "%zu files: sequential %.3f s, pool of %zu %.3f s, speedup %.2f (medians of %d runs each)\n",
                   files.size(), sequential, workers, parallel, speedup, rounds);
      unsigned cores = std::max(1u, std::thread::hardware_concurrency());
      if (speedup > std::min<double>(workers, cores) * 1.05)
        std::fprintf(stderr,
                     "pool_digest: warning: a speedup above %u is more than %zu processes on %u cores can give: the "
                     "machine was busy during the sequential runs (the figures are not to be trusted)\n",
                     std::min<unsigned>(static_cast<unsigned>(workers), cores), workers, cores);
    }
    co_return errors ? 1 : 0;
  });
}
