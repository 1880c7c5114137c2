"""Fingerprints of results, for bitwise gates across engine changes: one JSON line per case
with the sha256 of its spikes, sampled states, counts, plastic weights and traces (and, for
gradients, losses and gradients), computed through the public API only.

A change that must not alter results (a restructuring, a speed-up) prints the same lines
before and after:

    python benchmarks/fingerprint.py > before.jsonl      # on the old commit
    python benchmarks/fingerprint.py > after.jsonl       # on the new one
    diff before.jsonl after.jsonl

    python benchmarks/fingerprint.py [--quick] [--only NAME[,NAME]]

``--quick`` leaves out the two large cases (Brunel 10^4 and the 10^6-neuron case).
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

import eventsnn as ev
from eventsnn import cases
from eventsnn.plasticity import STDP, RewardSTDP, Triplet, Vogels

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


class Hasher:
    def __init__(self):
        self.h = hashlib.sha256()
        self.parts = {}

    def add(self, name, x):
        a = np.ascontiguousarray(np.asarray(x))
        d = hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()
        self.parts[name] = d[:12]
        self.h.update(d.encode())

    def net(self, net, results, *, weights=True):
        for k, r in enumerate(results):
            self.add(f"spikes{k}", np.concatenate([r.spikes.times, r.spikes.ids.astype(np.float64)]))
            self.add(f"counts{k}", np.array(list(r.counts.as_dict().values()), np.int64))
            if r.states is not None:
                self.add(f"states{k}", np.stack([r.states.v, r.states.i_exc, r.states.i_inh]))
        self.add("total", np.array(list(net.counts.as_dict().values()), np.int64))
        if weights:
            for pr in net.projections:
                if pr.plasticity is not None:
                    self.add(f"w{pr.index}", pr.weights)
                    tr = pr.traces()
                    self.add(f"tr{pr.index}", np.concatenate([tr["pre"].ravel(), tr["post"].ravel()]))

    def done(self, case, **extra):
        out = {"case": case, "sha256": self.h.hexdigest()[:16], **extra, "parts": self.parts}
        print(json.dumps(out), flush=True)


def sample(net, n_ids, times, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(net.n_neurons, size=min(n_ids, net.n_neurons), replace=False))
    net.record_state(ids, times)


def split_run(net, pieces):
    return [net.run(p) for p in pieces]


def case_brunel():
    net = cases.brunel(10_000, seed=1)
    sample(net, 40, np.linspace(5.0, 200.0, 13))
    h = Hasher()
    h.net(net, split_run(net, [200.0]))
    h.done("brunel_200ms", spikes=net.counts.spikes)


def case_lowrate_1e6():
    net = cases.sparse_lowrate(1_000_000, seed=1)
    h = Hasher()
    h.net(net, split_run(net, [200.0]))
    h.done("sparse_lowrate_1e6_200ms", spikes=net.counts.spikes)


def case_lowrate_small():
    net = cases.sparse_lowrate(20_000, seed=1)
    sample(net, 50, np.linspace(1.0, 300.0, 17))
    h = Hasher()
    h.net(net, split_run(net, [120.0, 0.0, 180.0]))
    h.done("sparse_lowrate_20k_split", spikes=net.counts.spikes)


def case_lowrate_k200():
    net = cases.sparse_lowrate(5000, k=200, seed=2)
    h = Hasher()
    h.net(net, split_run(net, [150.0, 150.0]))
    h.done("sparse_lowrate_5k_k200_split", spikes=net.counts.spikes)


def case_cuba():
    net = cases.cuba(4000, seed=1)
    sample(net, 30, np.linspace(0.5, 1000.0, 21))
    h = Hasher()
    h.net(net, split_run(net, [400.0, 600.0]))
    h.done("cuba_1s_split", spikes=net.counts.spikes)


def case_brunel_small():
    net = cases.brunel(2000, seed=3)
    sample(net, 30, [0.0, 3.3, 50.0, 99.9, 150.0])
    h = Hasher()
    h.net(net, split_run(net, [77.7, 122.3]))
    h.done("brunel_2000_split", spikes=net.counts.spikes)


def case_mixed():
    """General populations (tau_m == tau_syn), per-synapse delays, spike trains with ties,
    delta and exp channels mixed, a non-leaky population, a bias-driven population,
    adaptive thresholds, a lazy drive with t_ref = 0."""
    net = ev.Network(seed=5)
    gen = net.population(300, ev.LIF(tau_m=10.0, tau_syn_exc=10.0, tau_syn_inh=5.0, v_th=15.0,
                                     v_reset=0.0, t_ref=1.0, i_bias=2.0), name="gen", v_init=(0.0, 10.0))
    mix = net.population(200, ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=8.0, v_th=20.0,
                                     v_reset=10.0, t_ref=2.0), name="mix", v_init=(0.0, 19.0))
    nl = net.population(100, ev.LIF(tau_m=np.inf, tau_in=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0,
                                    v_th=20.0, v_reset=0.0, t_ref=0.5, i_bias=0.5), name="nonleaky")
    ad = net.population(150, ev.LIF(tau_m=15.0, tau_syn_exc=3.0, tau_syn_inh=6.0, v_th=12.0,
                                    v_reset=0.0, t_ref=1.5, i_bias=14.0, theta_plus=0.7), name="adapt")
    dr = net.population(200, ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=20.0,
                                    v_reset=10.0, t_ref=0.0), name="drive0", v_init=(0.0, 20.0))
    rng = np.random.default_rng(9)
    t = np.round(rng.uniform(0, 300, 3000), 1)
    i = rng.integers(0, 50, 3000)
    st = net.spike_source(t, i, n=50, name="trains")
    ps = net.poisson_source(40, rng.uniform(5, 40, 40), name="pois")
    net.connect(st, gen, ev.fixed_indegree(5), weight=lambda g, n: g.normal(2.0, 1.0, n),
                delay=lambda g, n: np.round(g.uniform(0.1, 3.0, n), 1))
    net.connect(ps, mix, ev.fixed_probability(0.2), weight=3.0, delay=0.5)
    net.connect(gen, mix, ev.fixed_indegree(10), weight=lambda g, n: g.normal(1.0, 2.0, n),
                delay=lambda g, n: g.uniform(0.5, 4.0, n))
    net.connect(mix, gen, ev.fixed_outdegree(8), weight=-1.5, delay=1.2)
    net.connect(gen, nl, ev.fixed_indegree(6), weight=2.5, delay=0.8)
    net.connect(nl, ad, ev.fixed_indegree(4), weight=-2.0, delay=2.0)
    net.connect(ad, ad, ev.fixed_indegree(5), weight=1.0, delay=1.0)
    net.connect(ad, dr, ev.fixed_indegree(3), weight=4.0, delay=1.7)
    net.poisson_drive(dr, rate=800.0, weight=1.2)
    net.poisson_drive(mix, rate=300.0, weight=0.8)
    sample(net, 60, np.linspace(0.0, 300.0, 31))
    h = Hasher()
    res = split_run(net, [100.0, 50.0, 150.0])
    h.net(net, res)
    h.add("theta", ad.theta)
    h.done("mixed_split", spikes=net.counts.spikes)


def case_plastic():
    """Every rule, all interactions, with learning switched off and on, a drive into a
    plastic population (queued as a source), rewards between runs."""
    net = ev.Network(seed=11)
    lif = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_th=20.0, v_reset=10.0,
                 t_ref=2.0, i_bias=10.0)
    dl = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=20.0, v_reset=10.0, t_ref=2.0)
    exc = net.population(800, lif, name="exc", v_init=(0.0, 20.0))
    inh = net.population(200, lif, name="inh", v_init=(0.0, 20.0))
    dp = net.population(100, dl, name="delta", v_init=(0.0, 20.0))
    src = net.poisson_source(100, 10.0, name="input")
    rules = [STDP(w_max=2.0), STDP(w_max=2.0, interaction="nearest", weight_dependence="multiplicative"),
             Triplet.visual_cortex_all_to_all() if hasattr(Triplet, "visual_cortex_all_to_all") else Triplet(),
             STDP(w_max=2.0, interaction="nearest_pre", weight_dependence="power", mu=0.4)]
    projs = []
    for k, post in enumerate((exc, inh)):
        projs.append(net.connect(exc, post, ev.fixed_indegree(40), weight=1.0, delay=1.5,
                                 plasticity=rules[2 * k]))
        projs.append(net.connect(inh, post, ev.fixed_indegree(10), weight=-4.0, delay=1.0,
                                 plasticity=Vogels(w_min=-8.0, w_max=0.0) if k == 0 else None))
        projs.append(net.connect(src, post, ev.fixed_indegree(20), weight=8.0 if k == 0 else 1.5,
                                 delay=1.0, plasticity=rules[2 * k + 1] if k == 1 else None))
    rp = net.connect(exc, dp, ev.fixed_indegree(20), weight=lambda g, n: g.uniform(0.0, 1.0, n),
                     delay=1.0, plasticity=RewardSTDP(w_max=4.0))
    net.poisson_drive(dp, rate=2000.0, weight=0.5)
    sample(net, 40, np.linspace(1.0, 400.0, 11))
    res = [net.run(100.0)]
    rp.reward(0.02)
    projs[0].learning = False
    res.append(net.run(100.0))
    projs[0].learning = True
    rp.reward(0.01)
    res.append(net.run(200.0))
    h = Hasher()
    h.net(net, res)
    h.done("plastic_rules", spikes=net.counts.spikes)


def case_song():
    from stdp_song import build
    net, proj = build(1)
    h = Hasher()
    res = [net.run(1000.0) for _ in range(10)]
    h.net(net, res)
    h.done("stdp_song_10s", spikes=net.counts.spikes)


def case_rstdp():
    net = ev.Network(seed=1)
    lif = ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=-70.0, v_th=-54.0,
                 v_reset=-60.0, t_ref=2.0, i_bias=-2.5)
    out = net.population(10, lif, name="out", v_init=-70.0)
    rng = np.random.default_rng(1)
    n_sp = rng.poisson(10000 * 1e-3 * 100)
    src = net.spike_source(np.sort(rng.uniform(0, 10000, n_sp)), rng.integers(0, 100, n_sp), n=100)
    proj = net.connect(src, out, ev.all_to_all(), weight=lambda g, n: g.uniform(0.0, 1.0, n),
                       delay=1.0, plasticity=RewardSTDP(a_plus=0.1, a_minus=0.2, tau_c=1000.0,
                                                        tau_d=200.0, w_min=0.0, w_max=4.0))
    net.poisson_drive(out, rate=200.0, weight=3.35)
    res = []
    for k in range(10):
        res.append(net.run(1000.0))
        proj.reward(0.025 * (k % 3))
    h = Hasher()
    h.net(net, res)
    h.add("level", np.array([proj.reward_level()]))
    h.done("rstdp_10s", spikes=net.counts.spikes)


def case_adaptive():
    net = ev.Network(seed=4)
    pop = net.population(400, ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=20.0,
                                     v_reset=10.0, t_ref=2.0, theta_plus=0.5), name="a", v_init=(0.0, 19.0))
    src = net.poisson_source(200, 20.0)
    net.connect(src, pop, ev.fixed_indegree(30), weight=2.0, delay=0.7)
    net.connect(pop, pop, ev.fixed_indegree(10), weight=-1.0, delay=1.3)
    res = [net.run(150.0)]
    pop.set_theta(pop.theta * 0.5)
    res.append(net.run(150.0))
    h = Hasher()
    h.net(net, res)
    h.add("theta", pop.theta)
    h.done("adaptive_split", spikes=net.counts.spikes)


def case_clock():
    net = cases.brunel(2000, seed=3)
    r = ev.run_clock(net, 200.0, dt=0.1)
    net2 = cases.cuba(1000, seed=2)
    eng = ev.ClockEngine(net2, 0.1)
    r2 = [eng.run(100.0), eng.run(100.0)]
    h = Hasher()
    for k, x in enumerate([r] + r2):
        h.add(f"spikes{k}", np.concatenate([x.spikes.times, x.spikes.ids.astype(np.float64)]))
        h.add(f"counts{k}", np.array(list(x.counts.as_dict().values()), np.int64))
    v, ie, ii = eng.state()
    h.add("state", np.stack([v, ie, ii]))
    h.done("clock", spikes=len(r.spikes))


def case_report():
    from eventsnn import counting
    net = cases.sparse_lowrate(3000, seed=2)
    r = net.run(100.0)
    rep = net.report(r, dt=0.1, clock=0.1) if hasattr(net, "report") else r.report(net, dt=0.1, clock=0.1)
    h = Hasher()
    h.add("report", np.frombuffer(rep.to_json(sort_keys=True).encode(), np.uint8))
    rec = counting.record(net)
    o = np.lexsort((rec.spike_nodes, rec.spike_times))      # (the order is not part of a record)
    h.add("record", np.concatenate([rec.spike_times[o], rec.spike_nodes[o].astype(np.float64)]))
    h.done("report")


def case_gradients():
    from eventsnn.encoding import SpikeInput
    from eventsnn.gradients import SNN, CountBounds, MaxVoltageCE, loss_and_grad
    rng = np.random.default_rng(3)
    h = Hasher()
    nets = [(SNN([5, 30, 3], seed=0), None, None),
            (SNN([4, 20, 10, 3], output="voltage", recurrent=True, seed=1), MaxVoltageCE(), None),
            (SNN([5, 40, 3], delay=[0.5, 1.0], seed=2), None, CountBounds())]
    for k, (net, loss, reg) in enumerate(nets):
        ns = 16
        ptr, ts, ids = [0], [], []
        for s in range(ns):
            m = int(rng.integers(3, 12))
            ts.append(np.sort(rng.uniform(0, 20, m)))
            ids.append(rng.integers(0, net.sizes[0], m))
            ptr.append(ptr[-1] + m)
        inp = SpikeInput(np.array(ptr, np.int64), np.concatenate(ts), np.concatenate(ids).astype(np.int32),
                         net.sizes[0])
        lab = rng.integers(0, net.sizes[-1], ns)
        out = loss_and_grad(net, inp, lab, loss=loss, regularizer=reg)
        for name, x in vars(out).items():
            if name == "counts":
                x = np.array(list(x.as_dict().values()), np.int64)
            if isinstance(x, (np.ndarray, float, int, np.integer)):
                h.add(f"g{k}_{name}", np.asarray(x))
    h.done("gradients")


CASES = dict(brunel=case_brunel, lowrate_1e6=case_lowrate_1e6, lowrate_small=case_lowrate_small,
             lowrate_k200=case_lowrate_k200, cuba=case_cuba, brunel_small=case_brunel_small,
             mixed=case_mixed, plastic=case_plastic, song=case_song, rstdp=case_rstdp,
             adaptive=case_adaptive, clock=case_clock, report=case_report, gradients=case_gradients)
LARGE = ("brunel", "lowrate_1e6")

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    names = a.only.split(",") if a.only else [k for k in CASES if not (a.quick and k in LARGE)]
    for k in names:
        CASES[k]()
