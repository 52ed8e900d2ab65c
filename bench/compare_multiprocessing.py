#!/usr/bin/env python3
"""The pool workloads of troupe-bench, run with Python's multiprocessing.Pool,
printed as JSON with the same figure names prefixed by python_, so that both
can be compared in one run:

    build/bench/troupe-bench --json pool_apply_async_per_s pool_map_items_per_s countdown_speedup_2proc
    python3 bench/compare_multiprocessing.py
"""
import json
import multiprocessing as mp
import statistics
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


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    # The lecture's 200 million takes Python ten seconds or more; a tenth of
    # it shows the same speedup.
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000_000
    figures = {"python_pool_apply_async_per_s": [], "python_pool_map_items_per_s": [],
               "python_countdown_speedup_2proc": []}
    for _ in range(runs):
        with mp.Pool(2) as pool:
            pool.apply(identity, (0,))
            figures["python_pool_apply_async_per_s"].append(apply_async_per_s(pool))
            figures["python_pool_map_items_per_s"].append(map_items_per_s(pool))
        figures["python_countdown_speedup_2proc"].append(countdown_speedup(n))
    out = {k: statistics.median(v) for k, v in figures.items()}
    out["runs"] = runs
    out["spread"] = {k: [min(v), max(v)] for k, v in figures.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
