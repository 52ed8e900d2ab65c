// The figure registry of troupe-bench.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace troupe::bench {

struct figure {
  std::string name;
  std::string unit;  // for --list
  std::function<double()> measure;
};

/// Figures register themselves at start-up (one translation unit per area).
std::vector<figure>& figures();
struct registrar {
  registrar(std::string name, std::string unit, std::function<double()> f) {
    figures().push_back({std::move(name), std::move(unit), std::move(f)});
  }
};

/// Measurements that need a fresh process (e.g. memory) run as a child:
/// troupe-bench re-executes itself with --child NAME, and the child prints
/// one number on stdout.
std::vector<std::pair<std::string, std::function<double()>>>& children();
struct child_registrar {
  child_registrar(std::string name, std::function<double()> f) { children().emplace_back(std::move(name), std::move(f)); }
};
/// Runs the child measurement `name` in a new process and returns its number.
double run_child(const std::string& name);

int main(int argc, char** argv);

/// The command line, for figures that start troupe programs (whose child
/// processes re-execute troupe-bench as workers).
extern int argc;
extern char** argv;

/// Resident set size of this process, in bytes.
long rss_bytes();

}  // namespace troupe::bench
