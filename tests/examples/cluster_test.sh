#!/usr/bin/env bash
# A head and two workers on loopback compute what sha512sum prints; the
# workers exit 0 when the head is done; a worker with the wrong secret is
# refused.
set -euo pipefail
bin="$1"
dir=$(mktemp -d /tmp/troupe-cluster-test.XXXXXX)
trap 'rm -rf "$dir"; kill $(jobs -p) 2>/dev/null || true' EXIT
mkdir -p "$dir/tree/sub"
for i in $(seq 1 50); do head -c $((i * 997)) /dev/urandom > "$dir/tree/sub/f$i"; done
: > "$dir/tree/empty"
export TROUPE_COOKIE="cluster-test-$$"
"$bin" head --listen 127.0.0.1:0 --workers 2 "$dir/tree" > "$dir/out" 2> "$dir/err" &
head_pid=$!
for _ in $(seq 1 200); do grep -q "listening on" "$dir/err" && break; sleep 0.05; done
addr=$(sed -n 's/^cluster: listening on //p' "$dir/err")
[ -n "$addr" ] || { echo "the head did not say where it listens"; cat "$dir/err"; exit 1; }
# a worker with the wrong secret is refused and exits with an error
if TROUPE_COOKIE=wrong "$bin" worker --join "$addr" 2> "$dir/wrong.err"; then
  echo "a worker with the wrong secret got in"; exit 1
fi
grep -q "secret" "$dir/wrong.err" || { echo "no word about the secret:"; cat "$dir/wrong.err"; exit 1; }
"$bin" worker --join "$addr" & w1=$!
"$bin" worker --join "$addr" & w2=$!
wait $head_pid
wait $w1
wait $w2
expected=$(cd / && find "$dir/tree" -type f | LC_ALL=C sort | xargs -d '\n' sha512sum)
[ "$(cat "$dir/out")" = "$expected" ] || { echo "output differs from sha512sum"; diff <(echo "$expected") "$dir/out" | head; exit 1; }
echo "ok: $(wc -l < "$dir/out") files"
