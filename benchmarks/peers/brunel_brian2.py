"""Brunel (2000) network A in Brian2 (C++ standalone or Cython runtime); one JSON line.

The network of ``eventsnn.cases.brunel``: N = 10^4 LIF neurons (80 % exc, 20 % inh),
tau_m = 20 ms, v_rest = 0, v_th = 20 mV, v_reset = 10 mV, t_ref = 2 ms, delta synapses
(J = 0.1 mV, inhibitory -g J with g = 5), delay 1.5 ms, fixed in-degree C_E = 800 and
C_I = 200 drawn with replacement (autapses and multapses allowed), external Poisson
input of rate eta * nu_th * C_E = 20 kHz per neuron with weight J (``PoissonInput``:
C_E inputs at eta * nu_th each, a binomial count per step), initial V uniform in
[0, 20) mV.  Input arriving during the refractory period is discarded (the synaptic and
Poisson increments are multiplied by ``not_refractory``).  dt = 0.1 ms.

Synapses are created from i/j arrays sorted by source (then target), as a user would
create them.

    python brunel_brian2.py [--simulator brian2_standalone|brian2_cython] [--n 10000]
                            [--duration 1000] [--seed 1]
"""
import time

from _peer import brian2_run, brian2_seed, brian2_setup, emit, parser

a = parser(__doc__, 1000.0, ["brian2_standalone", "brian2_cython"], n=10_000).parse_args()
b2 = brian2_setup(a.simulator, "brunel", f"n{a.n}_d{a.duration:g}_s{a.seed}")
import numpy as np  # noqa: E402
from brian2 import ms, mV  # noqa: E402

t0 = time.perf_counter()
b2.defaultclock.dt = 0.1 * ms
N = a.n
N_E = int(round(0.8 * N))
N_I = N - N_E
C_E = int(round(0.1 * N_E))
C_I = int(round(0.1 * N_I))
J, g, eta = 0.1, 5.0, 2.0
tau_m, v_th, v_reset, t_ref, delay = 20.0, 20.0, 10.0, 2.0, 1.5
nu_th = v_th / (J * C_E * tau_m)            # 1/ms
rng = np.random.default_rng(a.seed)
brian2_seed(b2, a.seed)

G = b2.NeuronGroup(N, "dv/dt = -v / tau : volt (unless refractory)",
                   threshold="v >= theta", reset="v = v_r", refractory=t_ref * ms,
                   method="exact",
                   namespace={"tau": tau_m * ms, "theta": v_th * mV, "v_r": v_reset * mV})
G.v = rng.uniform(0.0, v_th, N) * mV


def fixed_indegree(lo, hi, k):
    """(i, j): k sources per target drawn with replacement from [lo, hi), sorted by source."""
    j = np.repeat(np.arange(N, dtype=np.int32), k)
    i = rng.integers(lo, hi, size=N * k, dtype=np.int32)
    order = np.argsort(i, kind="stable")      # j ascending within each source
    return i[order], j[order]


syns = []
for (lo, hi, k, w) in ((0, N_E, C_E, J), (N_E, N, C_I, -g * J)):
    S = b2.Synapses(G, G, on_pre="v_post += w_syn * int(not_refractory_post)",
                    delay=delay * ms, namespace={"w_syn": w * mV})
    i, j = fixed_indegree(lo, hi, k)
    S.connect(i=i, j=j)
    syns.append(S)
    del i, j
P = b2.PoissonInput(G, "v", N=C_E, rate=eta * nu_th * 1000.0 * b2.Hz,
                    weight=f"{J!r} * mV * int(not_refractory)")
mon = b2.SpikeMonitor(G, record=False)
net = b2.Network(G, *syns, P, mon)
t1 = time.perf_counter()
timing = brian2_run(b2, a.simulator, net, a.duration, t0, t1)

count = np.asarray(mon.count[:])
sec = a.duration / 1000.0
emit({"case": "brunel", "simulator": a.simulator, "n_neurons": N,
      "n_synapses": N * (C_E + C_I), "bio_time_ms": a.duration, **timing,
      "spikes": int(count.sum()),
      "rates_hz": {"exc": count[:N_E].sum() / (N_E * sec), "inh": count[N_E:].sum() / (N_I * sec)},
      "dt_ms": 0.1})
