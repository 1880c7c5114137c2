"""Brunel (2000) network A in NEST (iaf_psc_delta or iaf_psc_delta_ps); one JSON line.

The network of ``eventsnn.cases.brunel``: N = 10^4 LIF neurons (80 % exc, 20 % inh),
tau_m = 20 ms, E_L = 0, V_th = 20 mV, V_reset = 10 mV, t_ref = 2 ms, delta synapses
(J = 0.1 mV, inhibitory -g J with g = 5; for iaf_psc_delta a weight is the jump of V
in mV), delay 1.5 ms, ``fixed_indegree`` C_E = 800 and C_I = 200 with autapses and
multapses allowed, one Poisson generator of rate eta * nu_th * C_E = 20 kHz connected
to all neurons (independent trains per target) with weight J, initial V uniform in
[0, 20) mV.  Input arriving during the refractory period is discarded
(refractory_input = False, NEST's default).  Resolution 0.1 ms, one thread.

``--simulator nest``: iaf_psc_delta + poisson_generator (spikes on the grid).
``--simulator nest_precise``: iaf_psc_delta_ps + poisson_generator_ps (off-grid spike
times, NEST's precise-timing models).

    python brunel_nest.py [--simulator nest|nest_precise] [--n 10000] [--duration 1000]
                          [--seed 1]
"""
import time

from _peer import emit, nest_run, nest_setup, parser

a = parser(__doc__, 1000.0, ["nest", "nest_precise"], n=10_000).parse_args()
nest = nest_setup(a.seed)
precise = a.simulator == "nest_precise"

t0 = time.perf_counter()
N = a.n
N_E = int(round(0.8 * N))
N_I = N - N_E
C_E = int(round(0.1 * N_E))
C_I = int(round(0.1 * N_I))
J, g, eta = 0.1, 5.0, 2.0
tau_m, v_th, v_reset, t_ref, delay = 20.0, 20.0, 10.0, 2.0, 1.5
nu_th = v_th / (J * C_E * tau_m)            # 1/ms
p_rate = eta * nu_th * C_E * 1000.0         # Hz per neuron

model = "iaf_psc_delta_ps" if precise else "iaf_psc_delta"
params = {"tau_m": tau_m, "E_L": 0.0, "V_th": v_th, "V_reset": v_reset, "t_ref": t_ref,
          "C_m": 250.0, "I_e": 0.0}
if not precise:
    params["V_min"] = -1e300      # explicit defaults (no lower bound, no refractory input)
    params["refractory_input"] = False
nodes = nest.Create(model, N, params=params)
nodes.V_m = nest.random.uniform(0.0, v_th)
E = nodes[:N_E]
I = nodes[N_E:]
noise = nest.Create("poisson_generator_ps" if precise else "poisson_generator",
                    params={"rate": p_rate})
nest.Connect(noise, nodes, syn_spec={"weight": J, "delay": delay})
for pre, k, w in ((E, C_E, J), (I, C_I, -g * J)):
    nest.Connect(pre, nodes, {"rule": "fixed_indegree", "indegree": k,
                              "allow_autapses": True, "allow_multapses": True},
                 {"synapse_model": "static_synapse", "weight": w, "delay": delay})
t1, t2, n_all, n_exc = nest_run(nest, nodes, a.duration, nodes[0].global_id, N_E)
sec = a.duration / 1000.0
emit({"case": "brunel", "simulator": a.simulator, "model": model, "n_neurons": N,
      "n_synapses": int(nest.GetKernelStatus("num_connections")) - 2 * N,
      "bio_time_ms": a.duration, "build_s": t1 - t0, "sim_s": t2 - t1,
      "spikes": n_all,
      "rates_hz": {"exc": n_exc / (N_E * sec), "inh": (n_all - n_exc) / (N_I * sec)},
      "resolution_ms": 0.1})
