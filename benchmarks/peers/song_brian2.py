"""Song, Miller & Abbott (2000) STDP in Brian2 (C++ standalone or Cython runtime): 1000
Poisson inputs (15 Hz) -> 1 LIF neuron, additive all-to-all pair STDP, 100 s; one JSON
line.

The network of eventsnn's ``examples/stdp_song.py`` (and ``benchmarks/stdp_song.py``,
whose plastic run is the figure compared): a current-based LIF neuron with an
exponential synaptic current in mV (tau_m = 10 ms, tau_syn = 5 ms, E_L = -74 mV,
V_th = -54 mV, V_reset = -60 mV, no refractory period, V(0) = -60 mV)::

    dv/dt = (I - (v - E_L)) / tau_m,   dI/dt = -I / tau_syn

a presynaptic spike adds w to I (eventsnn's weight of an exp synapse: the jump of the
current in mV).  w starts uniform in [0, w_max], w_max = 0.52 mV; additive STDP with
all-to-all pairing, traces a_pre (tau_plus = 20 ms), a_post (tau_minus = 20 ms),
A+ = 0.01 w_max, A- = 1.05 A+, hard bounds [0, w_max]: on a presynaptic arrival
w -= A- * post trace, on a postsynaptic spike w += A+ * pre trace (Brian2's STDP example
written for eventsnn's convention: the spike is transmitted with the weight before its
own update; ``--update-first`` applies the depression first, as NEST's stdp_synapse
does, for diagnosis).  Delay 0.1 ms (the whole presynaptic pathway,
including the trace update, as in eventsnn).  dt = 0.1 ms (``--dt``); inputs: ``PoissonGroup``.

With ``--weights FILE`` the initial weights are read from FILE (a .npy array of 1000
weights in mV; compare.py writes eventsnn's initial weights there, so both start from
the same weights: the output rate depends strongly on the drawn weights).

    python song_brian2.py [--simulator brian2_standalone|brian2_cython] [--duration 100000]
                          [--seed 1]
                          [--weights w0.npy]
"""
import time

from _peer import brian2_run, brian2_seed, brian2_setup, emit, parser

ap = parser(__doc__, 100_000.0, ["brian2_standalone", "brian2_cython"])
ap.add_argument("--weights", default="",
                help="initial weights (mV, .npy of 1000) instead of drawing them")
ap.add_argument("--dt", type=float, default=0.1, help="time step (ms)")
ap.add_argument("--update-first", action="store_true",
                help="apply the depression before transmitting the spike (NEST's order)")
a = ap.parse_args()
b2 = brian2_setup(a.simulator, "song",
                  f"d{a.duration:g}_dt{a.dt:g}" + ("_uf" if a.update_first else ""))
import numpy as np  # noqa: E402
from brian2 import Hz, ms, mV  # noqa: E402

N_IN, RATE, W_MAX = 1000, 15.0, 0.52
t0 = time.perf_counter()
b2.defaultclock.dt = a.dt * ms
brian2_seed(b2, a.seed)
rng = np.random.default_rng(a.seed)
ns = {"tau_m": 10 * ms, "tau_s": 5 * ms, "E_L": -74 * mV, "v_t": -54 * mV, "v_r": -60 * mV,
      "tau_plus": 20 * ms, "tau_minus": 20 * ms, "w_max": W_MAX * mV,
      "A_plus": 0.01 * W_MAX * mV, "A_minus": 1.05 * 0.01 * W_MAX * mV}
post = b2.NeuronGroup(1, """dv/dt = (I - (v - E_L)) / tau_m : volt
                           dI/dt = -I / tau_s : volt""",
                      threshold="v >= v_t", reset="v = v_r", method="exact", namespace=ns)
post.v = -60 * mV
inp = b2.PoissonGroup(N_IN, rates=RATE * Hz)
S = b2.Synapses(inp, post,
                """w : volt
                   dapre/dt = -apre / tau_plus : 1 (event-driven)
                   dapost/dt = -apost / tau_minus : 1 (event-driven)""",
                on_pre=("""w = clip(w - A_minus * apost, 0 * mV, w_max)
                           I_post += w
                           apre += 1""" if a.update_first else
                        """I_post += w
                           apre += 1
                           w = clip(w - A_minus * apost, 0 * mV, w_max)"""),
                on_post="""apost += 1
                           w = clip(w + A_plus * apre, 0 * mV, w_max)""",
                delay=0.1 * ms, namespace=ns)
S.connect()
w0 = np.load(a.weights) if a.weights else rng.uniform(0.0, W_MAX, N_IN)
S.w = w0 * mV
mon = b2.SpikeMonitor(post, record=False)
net = b2.Network(post, inp, S, mon)
t1 = time.perf_counter()
timing = brian2_run(b2, a.simulator, net, a.duration, t0, t1)

w = np.asarray(S.w[:] / mV)
spikes = int(np.asarray(mon.count[:]).sum())
emit({"case": "song", "simulator": a.simulator, "n_neurons": 1, "n_inputs": N_IN,
      "n_synapses": N_IN, "bio_time_ms": a.duration, **timing, "spikes": spikes,
      "rates_hz": {"post": spikes / (a.duration / 1000.0)},
      "frac_low": float(np.mean(w < 0.1 * W_MAX)), "frac_high": float(np.mean(w > 0.9 * W_MAX)),
      "dt_ms": a.dt, "update_first": a.update_first})
