"""Benchmark: build a fixed_indegree(100) projection with float64 weights.

Default: 10**6 -> 10**6 neurons, i.e. 10**8 synapses.  Prints one JSON line::

    {"case": "build_fixed_indegree", "n_synapses": ..., "build_s": ...,
     "bytes_per_synapse": ..., "final_mb": ..., "peak_rss_mb": ...,
     "rss_before_mb": ..., "peak_rss_increase_mb": ...}

``build_s`` excludes Numba compilation (the kernels are compiled, or loaded
from the cache, on a tiny network first).  ``peak_rss_mb`` is the process's
peak resident set size (``resource.getrusage(...).ru_maxrss``);
``rss_before_mb`` is that figure just before the build, so
``peak_rss_increase_mb`` is what the build itself added at its peak.
``final_mb`` is the size of all arrays of the resulting CSR.

Usage::

    python benchmarks/build_connectivity.py [--n N] [--k K] [--seed S]
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from eventsnn.connectivity import connect, fixed_indegree  # noqa: E402

MB = 1024.0 * 1024.0


def _maxrss_mb():
    # Linux reports ru_maxrss in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**6,
                    help="neurons in each population (default 1e6)")
    ap.add_argument("--k", type=int, default=100, help="in-degree (default 100)")
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args(argv)

    rule = fixed_indegree(args.k)
    connect(rule, 10, 10, 0.1, seed=1)   # compile / load cached kernels

    rss_before = _maxrss_mb()
    t0 = time.perf_counter()
    csr = connect(rule, args.n, args.n, 0.1, seed=args.seed)
    build_s = time.perf_counter() - t0
    peak = _maxrss_mb()

    print(json.dumps({
        "case": "build_fixed_indegree",
        "n_synapses": csr.nnz,
        "build_s": round(build_s, 3),
        "bytes_per_synapse": csr.bytes_per_synapse,
        "final_mb": round(csr.nbytes / MB, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_increase_mb": round(peak - rss_before, 1),
    }))


if __name__ == "__main__":
    main()
