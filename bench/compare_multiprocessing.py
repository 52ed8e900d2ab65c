#!/usr/bin/env python3
"""The pool workloads of troupe-bench, run with Python's multiprocessing.Pool,
printed as JSON with the same figure names prefixed by python_, so that both
can be compared in one run:

    build/bench/troupe-bench --json pool_apply_async_per_s pool_map_items_per_s countdown_speedup_2proc
    python3 bench/compare_multiprocessing.py [RUNS [N]]

With --digest DIR it instead hashes every regular file under DIR with
SHA-512, sequentially and with Pool(2).imap, and runs troupe's
examples/pool_digest DIR --compare --processes 2 in the same run (its path
with --pool-digest, default build/examples/pool_digest): both after a pass
that warms the page cache, each side timed three times, medians.

    python3 bench/compare_multiprocessing.py --digest /usr/include

With --troupe-bench PATH (say build/bench/troupe-bench) each round also runs
troupe-bench's pool figures right after Python's, and the output adds
troupe's figures and the medians of the per-round ratios troupe/Python
(pool_apply_async_vs_python, pool_map_vs_python).
"""
import hashlib
import json
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import time


def identity(x):
    return x


def countdown(n):
    while n > 0:
        n -= 1
    return n


def apply_async_per_s(pool, n=100_000):
    t0 = time.perf_counter()
    results = [pool.apply_async(identity, (i,)) for i in range(n)]
    total = sum(r.get() for r in results)
    assert total == n * (n - 1) // 2
    return n / (time.perf_counter() - t0)


def map_items_per_s(pool, n=1_000_000):
    # Once untimed, as troupe-bench does: the steady speed.
    pool.map(identity, range(n), chunksize=n // 8)
    t0 = time.perf_counter()
    out = pool.map(identity, range(n), chunksize=n // 8)
    assert len(out) == n
    return n / (time.perf_counter() - t0)


def countdown_speedup(n):
    t0 = time.perf_counter()
    countdown(n)
    countdown(n)
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    with mp.Pool(2) as pool:
        pool.map(countdown, [n, n], chunksize=1)
    return sequential / (time.perf_counter() - t0)


def sha512_file(path):
    h = hashlib.sha512()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def regular_files(top):
    """As pool_digest lists them: regular files, symbolic links not followed."""
    out = []
    for root, dirs, files in os.walk(top):
        for name in files:
            p = os.path.join(root, name)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(p)
    return sorted(out)


def digest_comparison(top, pool_digest):
    files = regular_files(top)
    for f in files:  # warm the page cache, as pool_digest --compare does
        sha512_file(f)
    sequential, pooled = [], []
    for r in range(3):
        if r % 2 == 1:
            t0 = time.perf_counter()
            for f in files:
                sha512_file(f)
            sequential.append(time.perf_counter() - t0)
        t0 = time.perf_counter()  # start-up included, as for troupe's pool
        with mp.Pool(2) as pool:
            chunk = max(1, len(files) // (64 * 2))
            for _ in pool.imap(sha512_file, files, chunksize=chunk):
                pass
        pooled.append(time.perf_counter() - t0)
        if r % 2 == 0:
            t0 = time.perf_counter()
            for f in files:
                sha512_file(f)
            sequential.append(time.perf_counter() - t0)
    run = subprocess.run([pool_digest, top, "--compare", "--processes", "2"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=False)
    m = re.search(r"sequential ([0-9.]+) s, pool of 2 ([0-9.]+) s", run.stderr)
    if not m:
        sys.exit("compare_multiprocessing: pool_digest printed no times:\n" + run.stderr)
    out = {
        "files": len(files),
        "python_digest_sequential_s": statistics.median(sequential),
        "python_digest_pool2_s": statistics.median(pooled),
        "troupe_digest_sequential_s": float(m.group(1)),
        "troupe_digest_pool2_s": float(m.group(2)),
    }
    out["python_digest_pool2_speedup"] = out["python_digest_sequential_s"] / out["python_digest_pool2_s"]
    out["troupe_digest_pool2_speedup"] = out["troupe_digest_sequential_s"] / out["troupe_digest_pool2_s"]
    out["troupe_vs_python_pool2"] = out["python_digest_pool2_s"] / out["troupe_digest_pool2_s"]
    out["spread"] = {"python_digest_sequential_s": [min(sequential), max(sequential)],
                     "python_digest_pool2_s": [min(pooled), max(pooled)]}
    return out


def main():
    if "--digest" in sys.argv:
        i = sys.argv.index("--digest")
        top = sys.argv[i + 1]
        pool_digest = "build/examples/pool_digest"
        if "--pool-digest" in sys.argv:
            pool_digest = sys.argv[sys.argv.index("--pool-digest") + 1]
        print(json.dumps(digest_comparison(top, pool_digest)))
        return
    troupe_bench = None
    if "--troupe-bench" in sys.argv:
        i = sys.argv.index("--troupe-bench")
        troupe_bench = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    # The lecture's 200 million takes Python ten seconds or more; a tenth of
    # it shows the same speedup.
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000_000
    figures = {"python_pool_apply_async_per_s": [], "python_pool_map_items_per_s": [],
               "python_countdown_speedup_2proc": []}
    ratios = {"pool_apply_async_vs_python": [], "pool_map_vs_python": []}
    for _ in range(runs):
        with mp.Pool(2) as pool:
            pool.apply(identity, (0,))
            figures["python_pool_apply_async_per_s"].append(apply_async_per_s(pool))
            figures["python_pool_map_items_per_s"].append(map_items_per_s(pool))
        figures["python_countdown_speedup_2proc"].append(countdown_speedup(n))
        if troupe_bench:
            names = ["pool_apply_async_per_s", "pool_map_items_per_s"]
            run = subprocess.run([troupe_bench, "--json", *names, "--runs", "1"], capture_output=True, text=True,
                                 check=True)
            got = json.loads(run.stdout)
            for name in names:
                figures.setdefault(name, []).append(got[name])
            ratios["pool_apply_async_vs_python"].append(got["pool_apply_async_per_s"] /
                                                        figures["python_pool_apply_async_per_s"][-1])
            ratios["pool_map_vs_python"].append(got["pool_map_items_per_s"] /
                                                figures["python_pool_map_items_per_s"][-1])
    out = {k: statistics.median(v) for k, v in figures.items()}
    if troupe_bench:
        out.update({k: statistics.median(v) for k, v in ratios.items()})
    out["runs"] = runs
    out["spread"] = {k: [min(v), max(v)] for k, v in figures.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
