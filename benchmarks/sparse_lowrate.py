"""10^6 exp-synapse LIF neurons, 100 recurrent synapses each, a few Hz, 1 s: one JSON line.

    python benchmarks/sparse_lowrate.py [--n 1000000] [--duration 1000] [--seed 1]
"""
import argparse

from _common import bench, large_paths

from eventsnn.cases import sparse_lowrate

ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=1_000_000)
ap.add_argument("--duration", type=float, default=1000.0)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
bench("sparse_lowrate", lambda: sparse_lowrate(a.n, seed=a.seed), a.duration,
      warm=lambda: large_paths(sparse_lowrate(2000, seed=a.seed)))
