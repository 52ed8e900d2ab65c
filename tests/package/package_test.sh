#!/usr/bin/env bash
# Installs the build tree into a fresh prefix, then builds and runs a program
# that uses the installed package, with every supported compiler found here.
set -euo pipefail
build="$1"
src="$(cd "$(dirname "$0")" && pwd)"
dir=$(mktemp -d /tmp/troupe-package-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
ran=0
for cxx in clang++-19 g++-12; do
  command -v "$cxx" >/dev/null || continue
  cmake -S "$src" -B "$dir/$cxx" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$dir/prefix" \
    -DCMAKE_BUILD_TYPE=Release >"$dir/$cxx.log" 2>&1 || { cat "$dir/$cxx.log"; exit 1; }
  cmake --build "$dir/$cxx" >>"$dir/$cxx.log" 2>&1 || { cat "$dir/$cxx.log"; exit 1; }
  out=$("$dir/$cxx/user")
  [ "$out" = "answer 42" ] || { echo "$cxx: the program printed '$out'"; exit 1; }
  echo "ok: $cxx"
  ran=$((ran + 1))
done
[ $ran -gt 0 ] || { echo "no compiler found"; exit 1; }
