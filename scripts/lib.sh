# Shared by scripts/demo, scripts/test, scripts/bench and scripts/fuzz: install
# what a bare Debian machine lacks, then configure and build.
set -euo pipefail

TROUPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TROUPE_PACKAGES=(
  cmake make g++ pkg-config
  libasio-dev libboost-dev libboost-serialization-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev
  python3 procps iproute2 clang
)

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
  cmake -S "$TROUPE_ROOT" -B "$TROUPE_ROOT/$dir" "$@" >/dev/null
  cmake --build "$TROUPE_ROOT/$dir" -j2
}
