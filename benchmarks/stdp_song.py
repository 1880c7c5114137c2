"""Song, Miller & Abbott (2000) STDP setup: 1000 Poisson inputs (15 Hz) -> 1 LIF neuron,
additive all-to-all pair STDP, 100 s of biological time; one JSON line.

The network is the one of ``examples/stdp_song.py`` (same parameters, same seed).
Besides the plastic run (``sim_s``) the same network is timed with static synapses
(``sim_s_static``) and with the plasticity rule attached but learning switched off
(``sim_s_learning_off``: traces are kept, weights are not changed), to show where the
time goes.  The three variants run interleaved, ``--repeat`` times each, and the best
time of each is reported (``cpu_s`` is the process CPU time of that best run; the
machine may be shared).  The kernels are compiled (or loaded from Numba's cache) on a
1-ms warm-up run before timing.

    python benchmarks/stdp_song.py [--duration 100000] [--seed 1] [--repeat 3]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from stdp_song import build, fractions  # noqa: E402  (the example defines the network)

from _common import compile_s, peak_rss_mb  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--duration", type=float, default=100_000.0)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--repeat", type=int, default=3)
a = ap.parse_args()

for kw in ({}, {"plastic": False}, {"learning": False}):
    build(a.seed, **kw)[0].run(1.0)          # warm-up: compile or load the kernels

best = {}
for _ in range(a.repeat):
    for name, kw in (("plastic", {}), ("static", {"plastic": False}),
                     ("learning_off", {"learning": False})):
        t0 = time.perf_counter()
        net, proj = build(a.seed, **kw)
        t1 = time.perf_counter()
        c0 = time.process_time()
        res = net.run(a.duration)
        c1 = time.process_time()
        t2 = time.perf_counter()
        if name not in best or t2 - t1 < best[name][1]:
            best[name] = (t1 - t0, t2 - t1, c1 - c0, net, proj, res)

build_s, sim_s, cpu_s, net, proj, res = best["plastic"]
c = res.counts
lo, hi = fractions(proj.weights)
out = {"case": "stdp_song", "n_inputs": proj.pre.size, "n_synapses": net.n_synapses,
       "bio_time_ms": a.duration, "build_s": round(build_s, 3), "sim_s": round(sim_s, 3),
       "cpu_s": round(cpu_s, 3),
       "sim_s_static": round(best["static"][1], 3), "cpu_s_static": round(best["static"][2], 3),
       "sim_s_learning_off": round(best["learning_off"][1], 3),
       "cpu_s_learning_off": round(best["learning_off"][2], 3),
       "spikes": c.spikes, "source_spikes": c.source_spikes, "syn_events": c.source_syn_events,
       "weight_updates": c.weight_updates, "trace_updates": c.trace_updates,
       "queue_pops": c.queue_pops,
       "out_rate_hz": round(res.rates("post"), 3), "frac_low": lo, "frac_high": hi,
       "peak_rss_mb": round(peak_rss_mb(), 1), "compile_s": compile_s()}
print(json.dumps(out))
