"""Brunel (2000) network A: 10^4 neurons, 10^7 synapses, 1 s, one JSON line.

syn_events counts recurrent deliveries only (spikes x out-degree), not the external
Poisson arrivals (reported separately as drive_events).  Numba kernels are cached on
first use; a 1 ms run of a 200-neuron copy loads them first (jit_s), so sim_s
is the simulation alone.

    python benchmarks/brunel.py [--n 10000] [--duration 1000] [--seed 1]
"""
import argparse

from _common import bench

from eventsnn.cases import brunel

ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=10_000)
ap.add_argument("--duration", type=float, default=1000.0)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
bench("brunel", lambda: brunel(a.n, seed=a.seed), a.duration,
      warm=lambda: brunel(200, seed=a.seed))
