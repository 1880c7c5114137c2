"""The CUBA network (Vogels & Abbott 2005) in Brian2 (C++ standalone or Cython runtime),
as Brian2's CUBA example; one JSON line.

The network of ``eventsnn.cases.cuba``: 4000 LIF neurons (3200 exc, 800 inh), tau_m =
20 ms, E_L = -49 mV, V_th = -50 mV, V_reset = -60 mV, t_ref = 5 ms, initial V uniform
in [-60, -50) mV, exponential synaptic "currents" in mV (tau_e = 5 ms, tau_i = 10 ms)::

    dv/dt  = (ge + gi - (v - E_L)) / tau_m   (unless refractory)
    dge/dt = -ge / tau_e,  dgi/dt = -gi / tau_i

a spike adds we = 1.62 mV to ge or wi = -9 mV to gi (Brian2's example; eventsnn's weight
of an exp synapse is the same quantity: the jump of the current, in mV, that enters
dV/dt divided by tau_m).  Each pair is connected with probability 0.02 (``connect(p=)``,
autapses allowed).  Brian2's example has no delay; here the delay is 0.1 ms, one time
step, as eventsnn's (which needs a delay > 0).  dt = 0.1 ms, integration 'exact'.

    python cuba_brian2.py [--simulator brian2_standalone|brian2_cython] [--n 4000]
                          [--duration 1000] [--seed 1]
"""
import time

from _peer import brian2_run, brian2_seed, brian2_setup, emit, parser

a = parser(__doc__, 1000.0, ["brian2_standalone", "brian2_cython"], n=4000).parse_args()
b2 = brian2_setup(a.simulator, "cuba", f"n{a.n}_d{a.duration:g}")
import numpy as np  # noqa: E402
from brian2 import ms, mV  # noqa: E402

t0 = time.perf_counter()
b2.defaultclock.dt = 0.1 * ms
brian2_seed(b2, a.seed)
rng = np.random.default_rng(a.seed)
N = a.n
N_E = int(round(0.8 * N))
N_I = N - N_E
eqs = """
dv/dt  = (ge + gi - (v - E_L)) / tau_m : volt (unless refractory)
dge/dt = -ge / tau_e : volt
dgi/dt = -gi / tau_i : volt
"""
ns = {"tau_m": 20 * ms, "tau_e": 5 * ms, "tau_i": 10 * ms, "E_L": -49 * mV,
      "v_t": -50 * mV, "v_r": -60 * mV, "we": 1.62 * mV, "wi": -9.0 * mV}
G = b2.NeuronGroup(N, eqs, threshold="v >= v_t", reset="v = v_r", refractory=5 * ms,
                   method="exact", namespace=ns)
G.v = rng.uniform(-60.0, -50.0, N) * mV
Ce = b2.Synapses(G[:N_E], G, on_pre="ge_post += we", delay=0.1 * ms, namespace=ns)
Ci = b2.Synapses(G[N_E:], G, on_pre="gi_post += wi", delay=0.1 * ms, namespace=ns)
Ce.connect(p=0.02)
Ci.connect(p=0.02)
mon = b2.SpikeMonitor(G, record=False)
net = b2.Network(G, Ce, Ci, mon)
t1 = time.perf_counter()
timing = brian2_run(b2, a.simulator, net, a.duration, t0, t1)

count = np.asarray(mon.count[:])
sec = a.duration / 1000.0
emit({"case": "cuba", "simulator": a.simulator, "n_neurons": N,
      "n_synapses": int(len(Ce) + len(Ci)), "bio_time_ms": a.duration, **timing,
      "spikes": int(count.sum()),
      "rates_hz": {"exc": count[:N_E].sum() / (N_E * sec), "inh": count[N_E:].sum() / (N_I * sec)},
      "dt_ms": 0.1})
