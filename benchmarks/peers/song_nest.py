"""Song, Miller & Abbott (2000) STDP in NEST: 1000 Poisson inputs (15 Hz) -> 1
iaf_psc_exp neuron through stdp_synapse (additive, all-to-all), 100 s; one JSON line.

The network of eventsnn's ``examples/stdp_song.py``: tau_m = 10 ms, tau_syn_ex = 5 ms,
E_L = -74 mV, V_th = -54 mV, V_reset = -60 mV, t_ref = 0, V(0) = -60 mV; weights
uniform in [0, w_max], w_max = 0.52 mV; additive all-to-all pair STDP, tau_plus =
tau_minus = 20 ms, A+ = 0.01 w_max, A- = 1.05 A+, hard bounds [0, w_max]; delay 0.1 ms.

Units.  NEST's iaf_psc_exp obeys dV/dt = -(V - E_L)/tau_m + I_syn/C_m (pA), eventsnn's
dV/dt = -(V - E_L)/tau_m + I/tau_m (mV, a weight is the jump of I), so a weight w (mV)
is w * C_m / tau_m pA: w_max = 0.52 mV -> 13 pA with C_m = 250 pF, tau_m = 10 ms.
stdp_synapse (mu_plus = mu_minus = 0: additive) with Wmax = 13 pA, lambda = A+/w_max =
0.01, alpha = A-/A+ = 1.05: a post spike adds lambda * Wmax * K+ = A+ * (pre trace), a
pre spike removes alpha * lambda * Wmax * K- = A- * (post trace); tau_minus is the
neuron's parameter.  The inputs are parrot_neurons fed by one poisson_generator
(independent trains per parrot), as STDP needs real presynaptic neurons in NEST.
Resolution 0.1 ms, one thread.

With ``--weights FILE`` the initial weights are read from FILE (a .npy array of 1000
weights in mV; compare.py writes eventsnn's initial weights there, so both start from
the same weights: the output rate depends strongly on the drawn weights).

    python song_nest.py [--duration 100000] [--seed 1]
                        [--weights w0.npy]
"""
import time

from _peer import emit, nest_run, nest_setup, parser

ap = parser(__doc__, 100_000.0, ["nest"])
ap.add_argument("--weights", default="",
                help="initial weights (mV, .npy of 1000) instead of drawing them")
a = ap.parse_args()
nest = nest_setup(a.seed)
import numpy as np  # noqa: E402

N_IN, RATE, W_MAX = 1000, 15.0, 0.52
TAU_M, C_M = 10.0, 250.0
to_pA = C_M / TAU_M
t0 = time.perf_counter()
post = nest.Create("iaf_psc_exp", 1, params={
    "tau_m": TAU_M, "C_m": C_M, "E_L": -74.0, "V_th": -54.0, "V_reset": -60.0, "t_ref": 0.0,
    "tau_syn_ex": 5.0, "tau_syn_in": 5.0, "I_e": 0.0, "V_m": -60.0, "tau_minus": 20.0})
gen = nest.Create("poisson_generator", params={"rate": RATE})
parrots = nest.Create("parrot_neuron", N_IN)
nest.Connect(gen, parrots, syn_spec={"delay": 0.1})
wmax = W_MAX * to_pA
w0 = (np.load(a.weights).reshape(1, N_IN) * to_pA) if a.weights else nest.random.uniform(0.0, wmax)
nest.Connect(parrots, post, "all_to_all",
             {"synapse_model": "stdp_synapse", "weight": w0,
              "delay": 0.1, "tau_plus": 20.0, "lambda": 0.01, "alpha": 1.05,
              "mu_plus": 0.0, "mu_minus": 0.0, "Wmax": wmax})
t1, t2, spikes, _ = nest_run(nest, post, a.duration)

w = np.asarray(nest.GetConnections(parrots, post).get("weight")) / to_pA
emit({"case": "song", "simulator": "nest", "model": "iaf_psc_exp + stdp_synapse",
      "n_neurons": 1, "n_inputs": N_IN, "n_synapses": N_IN, "bio_time_ms": a.duration,
      "build_s": t1 - t0, "sim_s": t2 - t1, "spikes": spikes,
      "rates_hz": {"post": spikes / (a.duration / 1000.0)},
      "frac_low": float(np.mean(w < 0.1 * W_MAX)), "frac_high": float(np.mean(w > 0.9 * W_MAX)),
      "resolution_ms": 0.1, "weight_pA": {"w_max": wmax}})
