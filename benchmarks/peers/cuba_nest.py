"""The CUBA network (Vogels & Abbott 2005) in NEST (iaf_psc_exp or iaf_psc_exp_ps); one
JSON line.

The network of ``eventsnn.cases.cuba``: 4000 LIF neurons (3200 exc, 800 inh), tau_m =
20 ms, E_L = -49 mV, V_th = -50 mV, V_reset = -60 mV, t_ref = 5 ms, initial V uniform
in [-60, -50) mV, exponential synaptic currents (tau_syn_ex = 5 ms, tau_syn_in = 10 ms),
``pairwise_bernoulli`` p = 0.02 with autapses, delay 0.1 ms, no external input.

Units.  NEST's neuron obeys dV/dt = -(V - E_L)/tau_m + I_syn/C_m with I_syn in pA;
eventsnn's (and Brian2's CUBA) dV/dt = -(V - E_L)/tau_m + I/tau_m with I in mV, and a
weight is the jump of I.  The two are the same network when I_syn/C_m = I/tau_m, i.e.
a weight w (mV) becomes w * C_m / tau_m pA: with C_m = 250 pF, 1.62 mV -> 20.25 pA and
-9 mV -> -112.5 pA (peak PSPs 0.49 mV and -4.4 mV... as in eventsnn; C_m itself is then
irrelevant).

``--simulator nest``: iaf_psc_exp (grid-constrained, resolution 0.1 ms).
``--simulator nest_precise``: iaf_psc_exp_ps (off-grid spike times).

    python cuba_nest.py [--simulator nest|nest_precise] [--n 4000] [--duration 1000]
                        [--seed 1]
"""
import time

from _peer import emit, nest_run, nest_setup, parser

a = parser(__doc__, 1000.0, ["nest", "nest_precise"], n=4000).parse_args()
nest = nest_setup(a.seed)
precise = a.simulator == "nest_precise"

t0 = time.perf_counter()
N = a.n
N_E = int(round(0.8 * N))
N_I = N - N_E
tau_m, C_m = 20.0, 250.0
to_pA = C_m / tau_m
model = "iaf_psc_exp_ps" if precise else "iaf_psc_exp"
nodes = nest.Create(model, N, params={
    "tau_m": tau_m, "C_m": C_m, "E_L": -49.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 5.0,
    "tau_syn_ex": 5.0, "tau_syn_in": 10.0, "I_e": 0.0})
nodes.V_m = nest.random.uniform(-60.0, -50.0)
E = nodes[:N_E]
I = nodes[N_E:]
for pre, w in ((E, 1.62), (I, -9.0)):
    nest.Connect(pre, nodes, {"rule": "pairwise_bernoulli", "p": 0.02, "allow_autapses": True},
                 {"synapse_model": "static_synapse", "weight": w * to_pA, "delay": 0.1})
t1, t2, n_all, n_exc = nest_run(nest, nodes, a.duration, nodes[0].global_id, N_E)
sec = a.duration / 1000.0
emit({"case": "cuba", "simulator": a.simulator, "model": model, "n_neurons": N,
      "n_synapses": int(nest.GetKernelStatus("num_connections")) - N,
      "bio_time_ms": a.duration, "build_s": t1 - t0, "sim_s": t2 - t1,
      "spikes": n_all,
      "rates_hz": {"exc": n_exc / (N_E * sec), "inh": (n_all - n_exc) / (N_I * sec)},
      "resolution_ms": 0.1, "weight_pA": {"exc": 1.62 * to_pA, "inh": -9.0 * to_pA}})
