// troupe-bench: the project's speed figures, as one JSON object.
//
//   troupe-bench --json [FIGURE...] [--runs N]
//
// Each figure is measured N times (default 5); the object holds the median
// of each figure, and "spread" holds [min, max] per figure, so a busy
// machine shows as a wide spread. Baselines (raw rings, raw sockets) are
// measured in the same run, interleaved with the figures they bound.
#include "bench.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  return troupe::bench::main(argc, argv);
}
