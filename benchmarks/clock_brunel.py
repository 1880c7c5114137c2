"""Event-driven vs clock-driven engine on one case, same network and interval: one JSON line.

Runs the exact event engine, then the clock-driven reference engine (step --dt) on a
network built from the same seed, and prints both wall times, their ratio, both
engines' operation counts and the report's ops and energy ratios.  Both engines are
warmed up on a tiny copy first (Numba kernels are cached on disk; warm-up loads them).
On a shared machine, run it a few times: the two runs of one invocation share the load.

    python benchmarks/clock_brunel.py [--case brunel] [--n N] [--duration 1000] [--dt 0.1] [--seed 1]
    python benchmarks/clock_brunel.py --case sparse-lowrate        # the 10^6-neuron case
"""
import argparse
import json
import sys
import time

from _common import compile_s, peak_rss_mb

from eventsnn import counting
from eventsnn.cli import DEFAULT_N, build_case
from eventsnn.engine.clock import ClockEngine

ap = argparse.ArgumentParser()
ap.add_argument("--case", default="brunel", choices=sorted(DEFAULT_N))
ap.add_argument("--n", type=int, default=None)
ap.add_argument("--duration", type=float, default=1000.0)
ap.add_argument("--dt", type=float, default=0.1)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()

# warm-up: load the cached kernels of both engines
small = {"brunel": 200, "sparse-lowrate": 2000, "cuba": 400}[a.case]
build_case(a.case, small, a.seed).run(5.0)
ClockEngine(build_case(a.case, small, a.seed), a.dt).run(5.0)

t0 = time.perf_counter()
net = build_case(a.case, a.n, a.seed)
t1 = time.perf_counter()
res = net.run(a.duration)
t2 = time.perf_counter()
eng = ClockEngine(net, a.dt)
t3 = time.perf_counter()
cres = eng.run(a.duration)
t4 = time.perf_counter()
rep = counting.report(counting.record(net, res, clock=cres), dt=a.dt).as_dict()
ev_c, cl_c = res.counts, cres.counts
out = {"case": f"{a.case}_event_vs_clock", "n_neurons": net.n_neurons, "n_synapses": net.n_synapses,
       "bio_time_ms": a.duration, "dt_ms": a.dt, "build_s": round(t1 - t0, 3),
       "event_sim_s": round(t2 - t1, 3), "clock_setup_s": round(t3 - t2, 3), "clock_sim_s": round(t4 - t3, 3),
       "wall_time_ratio_clock_over_event": round((t4 - t3) / (t2 - t1), 3),
       "event_spikes": ev_c.spikes, "clock_spikes": cl_c.spikes,
       "event_rates_hz": {p: round(res.rates(p), 3) for p in net.populations},
       "clock_rates_hz": {p: round(cres.rates(p), 3) for p in net.populations},
       "event_counts": ev_c.as_dict(), "clock_counts": cl_c.as_dict(),
       "ops_ratio_clock_over_event": round(rep["ratios"]["clock_over_event_ops"], 4),
       "energy_ratio_clock_over_event": round(rep["ratios"]["clock_over_event_energy"], 4),
       "energy_ratio_ann_over_event": round(rep["ratios"]["ann_over_event_energy"], 4),
       "event_energy_uj": round(rep["event"]["energy_pj"]["total"] / 1e6, 3),
       "clock_energy_uj": round(rep["clock"]["energy_pj"]["total"] / 1e6, 3),
       "peak_rss_mb": round(peak_rss_mb(), 1), "compile_s": compile_s()}
print(json.dumps(out))
sys.stdout.flush()
