"""The CUBA network (Vogels & Abbott 2005; Brette et al. 2007, as in Brian2's example):
4000 exp-synapse LIF neurons, p = 0.02, self-sustained, 1 s; one JSON line.

The network is :func:`eventsnn.cases.cuba` (weights +1.62 / -9 mV as jumps of the
synaptic current, tau_syn 5 / 10 ms, delay 0.1 ms).  syn_events counts recurrent
deliveries.  A 1 ms run of a 200-neuron copy loads the Numba kernels first (jit_s),
so sim_s is the simulation alone.  benchmarks/peers/ has the same network for
Brian2 and NEST.

    python benchmarks/cuba.py [--n 4000] [--duration 1000] [--seed 1]
"""
import argparse

from _common import bench

from eventsnn.cases import cuba

ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=4000)
ap.add_argument("--duration", type=float, default=1000.0)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
bench("cuba", lambda: cuba(a.n, seed=a.seed), a.duration,
      warm=lambda: cuba(200, seed=a.seed))
