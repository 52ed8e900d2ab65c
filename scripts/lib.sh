# Shared by scripts/demo, scripts/test and scripts/fuzz: install
# what a bare Debian machine lacks, then configure and build.
set -euo pipefail

TROUPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# g++ also brings libstdc++, which clang uses too; clang 19 is the default
# compiler and builds the fuzzers (libclang-rt: its sanitizers and libFuzzer).
TROUPE_PACKAGES=(
  cmake make g++ clang-19 libclang-rt-19-dev pkg-config
  libasio-dev libboost-dev libboost-serialization-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev
  python3 procps iproute2
  libcaf-dev  # only for troupe-bench: the Savina benchmarks in CAF 0.17 too
)

# The compiler the scripts build with: --compiler clang (the default) or
# --compiler gcc, or TROUPE_COMPILER in the environment.
TROUPE_COMPILER="${TROUPE_COMPILER:-clang}"

# troupe_compiler_options: the CMake options that select TROUPE_COMPILER.
troupe_compiler_options() {
  case "$TROUPE_COMPILER" in
    clang) echo "-DCMAKE_CXX_COMPILER=clang++-19" ;;
    gcc) echo "-DCMAKE_CXX_COMPILER=g++-12" ;;
    *) echo "troupe: unknown compiler '$TROUPE_COMPILER' (clang or gcc)" >&2; return 1 ;;
  esac
}

# The optimized build of the scripts. Line tables (-g1) are enough for
# backtraces and halve the build time of full debug information.
TROUPE_RELEASE_OPTIONS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")

# troupe_build_dir BASE: the build directory for TROUPE_COMPILER (BASE for
# clang, BASE-gcc for g++).
troupe_build_dir() {
  if [ "$TROUPE_COMPILER" = clang ]; then echo "$1"; else echo "$1-$TROUPE_COMPILER"; fi
}

troupe_install_deps() {
  local missing=()
  for p in "${TROUPE_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "troupe: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# troupe_build DIR [cmake options...]
troupe_build() {
  local dir="$1"
  shift
  local compiler
  compiler="$(troupe_compiler_options)"
  # A directory configured for another compiler cannot switch: start afresh.
  local cache="$TROUPE_ROOT/$dir/CMakeCache.txt"
  if [ -f "$cache" ] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=.*${compiler#-DCMAKE_CXX_COMPILER=}\$" "$cache"; then
    rm -rf "${TROUPE_ROOT:?}/$dir"
  fi
  cmake -S "$TROUPE_ROOT" -B "$TROUPE_ROOT/$dir" "$compiler" "$@" >/dev/null
  cmake --build "$TROUPE_ROOT/$dir" -j2
}
