"""A large plastic network: 10^5 neurons, 10^7 plastic synapses, 1 s at a few Hz.

The network is :func:`eventsnn.cases.sparse_lowrate` at n = 10^5 (80 % exc, 20 % inh
exp-synapse LIF neurons, fixed in-degree 100: 80 exc inputs of 1 mV, 20 inh inputs of
-4 mV, driven by 10^4 Poisson sources at 10 Hz through 20 static synapses per neuron)
with i_bias = 10 mV instead of 8 mV, so that it fires at about 5 Hz; it is built here
so that its four recurrent projections (10^7 synapses) can carry a rule.
It runs twice from the same seed: with static recurrent synapses, and with additive
all-to-all pair STDP (:class:`eventsnn.plasticity.STDP`, tau = 20 ms, A+ = 0.01 mV,
A- = 0.0105 mV; bounds [0, 2] mV excitatory, [-8, 0] mV inhibitory) on all 10^7
recurrent synapses.

Each variant runs in its own subprocess (so each peak RSS is its own), the variants
interleaved ``--repeat`` times; one JSON line per run, then a summary line with the
best times and ``ratio`` = plastic / static simulation wall time.  Bytes per synapse
come from ``net.synapse_bytes()``: ``bytes_per_synapse`` (targets + weights) and
``plasticity_bytes_per_synapse`` (transpose index + row lookup; pair rules store
nothing else per synapse).  The machine may be shared: ``cpu_s`` is the process CPU
time of the run.

    python benchmarks/plastic_network.py [--n 100000] [--duration 1000] [--repeat 2]
"""
import argparse
import json
import os
import subprocess
import sys
import time

from _common import compile_s, peak_rss_mb


def build(n, seed, plastic):
    import eventsnn as ev
    from eventsnn.plasticity import STDP
    model = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_rest=0.0, v_th=20.0,
                   v_reset=10.0, t_ref=2.0, i_bias=10.0)
    n_e = int(round(0.8 * n))
    n_i = n - n_e
    net = ev.Network(seed=seed)
    exc = net.population(n_e, model, name="exc", v_init=(0.0, 20.0))
    inh = net.population(n_i, model, name="inh", v_init=(0.0, 20.0))
    src = net.poisson_source(max(1, n // 10), 10.0, name="input")
    r_e = STDP(a_plus=0.01, a_minus=0.0105, tau_plus=20.0, tau_minus=20.0, w_min=0.0, w_max=2.0)
    r_i = STDP(a_plus=0.01, a_minus=0.0105, tau_plus=20.0, tau_minus=20.0, w_min=-8.0, w_max=0.0)
    for post in (exc, inh):
        net.connect(exc, post, ev.fixed_indegree(80), weight=1.0, delay=1.5,
                    plasticity=r_e if plastic else None)
        net.connect(inh, post, ev.fixed_indegree(20), weight=-4.0, delay=1.0,
                    plasticity=r_i if plastic else None)
        net.connect(src, post, ev.fixed_indegree(20), weight=8.0, delay=1.0)
    return net


def one(variant, n, duration, seed):
    """Build and run one variant in this process; print its JSON line."""
    plastic = variant == "plastic"
    t0 = time.perf_counter()
    net = build(n, seed, plastic)
    net.run(0.0)            # compile the plan (transpose index included) and load the kernels
    t1 = time.perf_counter()
    c0 = time.process_time()
    res = net.run(duration)
    c1 = time.process_time()
    t2 = time.perf_counter()
    mem = net.synapse_bytes()
    c = res.counts
    n_pl = sum(p.n_synapses for p in net.projections if p.plasticity is not None)
    out = {"case": "plastic_network", "variant": variant, "n_neurons": net.n_neurons,
           "n_synapses": net.n_synapses, "plastic_synapses": n_pl, "bio_time_ms": duration,
           "build_s": round(t1 - t0, 3), "sim_s": round(t2 - t1, 3), "cpu_s": round(c1 - c0, 3),
           "rate_exc_hz": round(res.rates("exc"), 3), "rate_inh_hz": round(res.rates("inh"), 3),
           "spikes": c.spikes, "syn_events": c.syn_events, "source_syn_events": c.source_syn_events,
           "trace_updates": c.trace_updates, "weight_updates": c.weight_updates,
           "bytes_per_synapse": round(mem["bytes_per_synapse"], 3),
           "plasticity_bytes_per_synapse": round(mem["plasticity_synapse_bytes"] / n_pl, 4) if n_pl else 0.0,
           "plasticity_neuron_bytes": mem["plasticity_neuron_bytes"],
           "peak_rss_mb": round(peak_rss_mb(), 1), "compile_s": compile_s()}
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--duration", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--variant", choices=["static", "plastic"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.variant:
        one(a.variant, a.n, a.duration, a.seed)
        return
    runs = {"static": [], "plastic": []}
    for _ in range(a.repeat):
        for v in ("static", "plastic"):
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--variant", v,
                                "--n", str(a.n), "--duration", str(a.duration), "--seed", str(a.seed)],
                               capture_output=True, text=True, check=True)
            line = p.stdout.strip().splitlines()[-1]
            print(line, flush=True)
            runs[v].append(json.loads(line))
    s = min(runs["static"], key=lambda r: r["sim_s"])
    p = min(runs["plastic"], key=lambda r: r["sim_s"])
    print(json.dumps({"case": "plastic_network", "variant": "summary", "n_neurons": s["n_neurons"],
                      "plastic_synapses": p["plastic_synapses"], "bio_time_ms": a.duration,
                      "sim_s_static": s["sim_s"], "sim_s_plastic": p["sim_s"],
                      "ratio": round(p["sim_s"] / s["sim_s"], 3),
                      "cpu_ratio": round(p["cpu_s"] / s["cpu_s"], 3),
                      "rate_exc_hz": p["rate_exc_hz"], "bytes_per_synapse": p["bytes_per_synapse"],
                      "plasticity_bytes_per_synapse": p["plasticity_bytes_per_synapse"],
                      "peak_rss_mb_static": s["peak_rss_mb"], "peak_rss_mb_plastic": p["peak_rss_mb"]}))


if __name__ == "__main__":
    main()
