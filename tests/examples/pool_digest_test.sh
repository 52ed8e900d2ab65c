#!/usr/bin/env bash
# pool_digest prints exactly what sha512sum prints for the files `find DIR
# -type f` lists, skips an unreadable file with a message, and handles an
# empty file, names with spaces, symbolic links and nested directories.
set -euo pipefail
bin="$1"
tree=$(mktemp -d /tmp/troupe-digest-test.XXXXXX)
trap 'rm -rf "$tree"' EXIT
chmod 755 "$tree"
mkdir -p "$tree/a/b/c" "$tree/d e"
: > "$tree/empty"
head -c 3000000 /dev/urandom > "$tree/a/big"
for i in $(seq 1 300); do echo "file $i" > "$tree/a/b/c/f$i"; done
echo "spaced" > "$tree/d e/with space.txt"
ln -s "$tree/a/big" "$tree/link-to-big"        # not followed, not listed
ln -s "$tree/a" "$tree/link-to-dir"            # not descended into
echo "secret" > "$tree/unreadable"
chmod 000 "$tree/unreadable"
chmod -R a+rX "$tree/a" "$tree/d e" "$tree/empty"

run=("$bin")
# root reads everything: run as nobody so that the unreadable file is unreadable
if [ "$(id -u)" -eq 0 ]; then run=(setpriv --reuid=65534 --regid=65534 --clear-groups "$bin"); fi

status=0
"${run[@]}" "$tree" --processes 2 > "$tree.out" 2> "$tree.err" || status=$?
expected=$(cd / && find "$tree" -type f ! -name unreadable | LC_ALL=C sort | xargs -d '\n' sha512sum)
trap 'rm -rf "$tree" "$tree.out" "$tree.err"' EXIT

if [ "$(cat "$tree.out")" != "$expected" ]; then
  echo "output differs from sha512sum:"; diff <(echo "$expected") "$tree.out" | head -20; exit 1
fi
grep -q "unreadable" "$tree.err" || { echo "no message about the unreadable file:"; cat "$tree.err"; exit 1; }
[ "$status" -eq 1 ] || { echo "exit status $status, expected 1 (a file could not be read)"; exit 1; }
[ "$(wc -l < "$tree.out")" -eq 303 ] || { echo "expected 303 lines"; exit 1; }
echo "ok: $(wc -l < "$tree.out") files"
