#include "bench.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string_view>
#include <thread>
#include <unistd.h>

#include <troupe/run.hpp>

namespace troupe::bench {

int argc = 0;
char** argv = nullptr;

std::vector<figure>& figures() {
  static std::vector<figure> f;
  return f;
}

std::vector<std::pair<std::string, std::function<double()>>>& children() {
  static std::vector<std::pair<std::string, std::function<double()>>> c;
  return c;
}

double run_child(const std::string& name) {
  std::string cmd = "/proc/" + std::to_string(getpid()) + "/exe --child " + name;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  double v = -1;
  if (std::fscanf(p, "%lf", &v) != 1) v = -1;
  pclose(p);
  return v;
}

long rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: troupe-bench --json [FIGURE...] [--runs N] [--list]\n"
               "  Prints one JSON object: the median of each figure over N runs (default 5),\n"
               "  and \"spread\": {figure: [min, max]}. Names select figures; none means all.\n");
}

}  // namespace

// Ratios of a figure to the baseline measured in the same run.
const std::pair<const char*, std::pair<const char*, const char*>> ratio_defs[] = {
    {"shm_msgs_vs_raw_ring", {"shm_msgs_per_s", "raw_ring_msgs_per_s"}},
    {"inproc_awaited_send_vs_send_throttle", {"inproc_msgs_per_s", "inproc_send_throttle_msgs_per_s"}},
    {"shm_awaited_send_vs_send_throttle", {"shm_msgs_per_s", "shm_send_throttle_msgs_per_s"}},
    {"inproc_rtt_handlers_vs_get_if", {"inproc_rtt_handlers_ns", "inproc_rtt_get_if_ns"}},
    {"shm_rtt_vs_raw_ring", {"shm_rtt_ns", "raw_ring_rtt_ns"}},
    {"shm_oversubscribed_vs_one_sender", {"shm_msgs_per_s_oversubscribed", "shm_msgs_per_s"}},
    {"tcp_msgs_vs_raw_tcp", {"tcp_msgs_per_s", "raw_tcp_msgs_per_s"}},
    {"tcp_rtt_vs_raw_tcp", {"tcp_rtt_ns", "raw_tcp_rtt_ns"}},
    // speedups: the time in one process over the time in several
    {"savina_big_2proc_speedup", {"savina_big_ms", "savina_big_2proc_ms"}},
    {"savina_big_4proc_speedup", {"savina_big_ms", "savina_big_4proc_ms"}},
    {"savina_fjcreate_2proc_speedup", {"savina_fjcreate_ms", "savina_fjcreate_2proc_ms"}},
    {"savina_fjcreate_4proc_speedup", {"savina_fjcreate_ms", "savina_fjcreate_4proc_ms"}},
    {"savina_chameneos_2proc_speedup", {"savina_chameneos_ms", "savina_chameneos_2proc_ms"}},
    {"savina_chameneos_4proc_speedup", {"savina_chameneos_ms", "savina_chameneos_4proc_ms"}},
    // CAF's time over troupe's (when troupe-bench was built with CAF)
    {"savina_pingpong_vs_caf", {"caf_savina_pingpong_ms", "savina_pingpong_ms"}},
    {"savina_counting_vs_caf", {"caf_savina_counting_ms", "savina_counting_ms"}},
    {"savina_threadring_vs_caf", {"caf_savina_threadring_ms", "savina_threadring_ms"}},
    {"savina_fjcreate_vs_caf", {"caf_savina_fjcreate_ms", "savina_fjcreate_ms"}},
    {"savina_big_vs_caf", {"caf_savina_big_ms", "savina_big_ms"}},
    {"savina_chameneos_vs_caf", {"caf_savina_chameneos_ms", "savina_chameneos_ms"}},
};

int main(int argc, char** argv) {
  if (troupe::is_worker_process()) return troupe::run(argc, argv, nullptr);
  bench::argc = argc;
  bench::argv = argv;
  int runs = 5;
  bool json = false;
  std::vector<std::string> wanted;
  if (argc == 3 && std::string(argv[1]) == "--child") {
    for (auto& [name, f] : children())
      if (name == argv[2]) {
        std::printf("%.17g\n", f());
        return 0;
      }
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--list") {
      for (auto& f : figures()) std::printf("%-28s %s\n", f.name.c_str(), f.unit.c_str());
      return 0;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (!a.empty() && a[0] != '-') {
      wanted.push_back(a);
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!json) {
    usage(stderr);
    return 2;
  }
  for (auto& w : wanted)
    if (std::none_of(figures().begin(), figures().end(), [&](auto& f) { return f.name == w; })) {
      std::fprintf(stderr, "troupe-bench: unknown figure %s (see --list)\n", w.c_str());
      return 2;
    }
  // Rounds are the outer loop, so each figure and its baseline are measured
  // close together in time, again and again (see ../shared/MEASURING.md).
  std::vector<figure*> chosen;
  for (auto& f : figures())
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), f.name) != wanted.end()) chosen.push_back(&f);
  std::vector<std::pair<std::string, std::vector<double>>> results;
  for (auto* f : chosen) results.emplace_back(f->name, std::vector<double>{});
  for (int r = 0; r < runs; ++r)
    for (std::size_t i = 0; i < chosen.size(); ++i) results[i].second.push_back(chosen[i]->measure());
  auto unsorted = results;  // in the order of the rounds, for the ratios
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    auto& v = results[i].second;
    std::sort(v.begin(), v.end());
    std::fprintf(stderr, "troupe-bench: %s median %.4g (min %.4g, max %.4g) %s\n", chosen[i]->name.c_str(),
                 v[v.size() / 2], v.front(), v.back(), chosen[i]->unit.c_str());
  }
  std::printf("{");
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto& v = results[i].second;
    std::printf("%s\"%s\": %.6g", i ? ", " : "", results[i].first.c_str(), v[v.size() / 2]);
  }
  // A ratio is the median of the ratios of each round: a figure and its
  // baseline measured one right after the other, so that the machine's
  // mood of the moment (these VMs are bimodal) falls on both alike.
  std::map<std::string, const std::vector<double>*> per_round;
  for (auto& [name, v] : unsorted) per_round[name] = &v;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (auto& [ratio, parts] : ratio_defs)
    if (per_round.count(parts.first) && per_round.count(parts.second)) {
      const auto& a = *per_round[parts.first];
      const auto& b = *per_round[parts.second];
      std::vector<double> rs;
      for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        if (b[i] != 0) rs.push_back(a[i] / b[i]);
      if (rs.empty()) continue;
      std::sort(rs.begin(), rs.end());
      double r = rs[rs.size() / 2];
      std::printf(", \"%s\": %.4g", ratio, r);
      // More than the cores can give: the two sides did not do the same
      // work under the same conditions (or the machine changed between).
      if (std::string_view(ratio).ends_with("_speedup") && r > cores)
        std::fprintf(stderr, "troupe-bench: warning: %s %.3g exceeds the %u cores of this machine\n", ratio, r, cores);
    }
  std::printf("%s\"runs\": %d, \"spread\": {", results.empty() ? "" : ", ", runs);
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto& v = results[i].second;
    std::printf("%s\"%s\": [%.6g, %.6g]", i ? ", " : "", results[i].first.c_str(), v.front(), v.back());
  }
  std::printf("}}\n");
  return 0;
}

}  // namespace troupe::bench
