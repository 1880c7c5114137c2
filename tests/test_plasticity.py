"""STDP in the event engine (eventsnn.plasticity, Projection's plastic API, engine hooks).

Expected values come from closed forms (the STDP window of each pair rule), from the slow
pure-Python reference in tests/stdp_reference.py (written from the rules' documented
semantics, with traces as explicit sums over spikes), and from hand counts.

How postsynaptic spikes are controlled: every postsynaptic neuron has a non-plastic
driver (a spike source, delta synapse, 5000 mV, delay 0) and a threshold of 1000 mV, so
it fires exactly at its driver's spike times and never because of its plastic inputs
(each test checks the recorded spike times against the driver times).  The engine's
recorded spikes are what the reference is fed with.
"""
import math
import os
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventsnn as ev
import eventsnn.plasticity as PLM
from eventsnn.plasticity import STDP, RewardSTDP, Triplet, Vogels

sys.path.insert(0, os.path.dirname(__file__))
import stdp_reference as ref  # noqa: E402

DRIVE_W = 5000.0  # mV: fires the postsynaptic neuron at once
# delta synapses, frame representation
LIF_DELTA = ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=1000.0,
                   v_reset=0.0, t_ref=0.0)
# delta excitation, exponential inhibition (frame representation with exp channel)
LIF_EXP_INH = ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=3.0, v_rest=0.0, v_th=1000.0,
                     v_reset=0.0, t_ref=0.0)
# tau_syn_inh close to tau_m: the general closed-form representation
LIF_GENERAL = ev.LIF(tau_m=5.0, tau_syn_exc=0.0, tau_syn_inh=4.5, v_rest=0.0, v_th=1000.0,
                     v_reset=0.0, t_ref=0.0)


# ============================================================================ helpers

@dataclass(frozen=True)
class Scenario:
    """Plastic synapses pre[s] -> post[s] (pre sorted: CSR order is synapse order),
    presynaptic emission times and postsynaptic (driver) spike times, in ms."""
    n_pre: int
    n_post: int
    pre: tuple
    post: tuple
    pre_times: dict
    post_times: dict
    delay: float
    t_end: float


# Hand-chosen trains (delay 1.5 ms, so arrival = emission + 1.5):
# * pre 0: a burst 10..13 whose arrivals 11.5..14.5 straddle post 0's spikes at 13.0 and
#   14.5 (the last arrival coincides with a post spike), and two simultaneous spikes at 40
#   (arrival 41.5 = a spike of post 1);
# * pre 1: arrival 30.0 = a spike of post 0; multapse 1 -> 0 (two synapses);
# * pre 2: a burst 5, 5.5, 6 before post 2 at 7.5, and arrival 35.5 = a spike of post 2;
# * pre 3: arrival 20.0 = simultaneous spikes of posts 1 and 2;
# * pre 4 spikes but has no synapse; post 3 spikes but has no plastic input;
# * post 0 has two driver spikes at 31.0 (one postsynaptic spike); post 1 fires at 3.0,
#   before any input reached it; the run ends at 100 (post 0 fires at 70, after the last
#   arrival at 61.5).
RICH = Scenario(
    n_pre=5, n_post=4,
    pre=(0, 0, 1, 1, 1, 2, 2, 3, 3),
    post=(0, 1, 0, 0, 2, 1, 2, 0, 2),
    pre_times={0: [10.0, 11.0, 12.0, 13.0, 40.0, 40.0], 1: [2.0, 28.5, 60.0],
               2: [5.0, 5.5, 6.0, 33.0, 34.0], 3: [18.5], 4: [7.0, 50.0]},
    post_times={0: [13.0, 14.5, 30.0, 31.0, 31.0, 70.0], 1: [3.0, 20.0, 41.5],
                2: [7.5, 20.0, 35.5], 3: [12.0, 44.0]},
    delay=1.5, t_end=100.0)


def _spikes(d, n):
    ts, ids = [], []
    for i in range(n):
        ts += list(d.get(i, []))
        ids += [i] * len(d.get(i, []))
    return np.array(ts, dtype=float), np.array(ids, dtype=np.int64)


def _w0(rule, nnz):
    """Initial weights spread over the inside of the bounds (mV)."""
    return rule.w_min + (rule.w_max - rule.w_min) * np.linspace(0.15, 0.85, nnz)


@dataclass
class EngineRun:
    net: ev.Network
    proj: ev.Projection
    results: list
    controls: list      # (t, action, value) as applied between runs, for the reference
    posts: list         # recorded postsynaptic spike times per neuron


def run_engine(rule, sc, w0, *, segments=None, model=LIF_DELTA, learning=True, reward0=0.0,
               seed=1, read_between=False):
    """Build the scenario's network and run it; ``segments`` = [(t_stop, actions)], the
    actions applied after the run that ends at t_stop."""
    net = ev.Network(seed=seed)
    pop = net.population(sc.n_post, model)
    t, i = _spikes(sc.pre_times, sc.n_pre)
    src = net.spike_source(t, i, n=sc.n_pre)
    t, i = _spikes(sc.post_times, sc.n_post)
    drv = net.spike_source(t, i, n=sc.n_post)
    net.connect(drv, pop, ev.one_to_one(), weight=DRIVE_W, delay=0.0)
    csr = ev.from_lists(np.array(sc.pre), np.array(sc.post), np.asarray(w0, dtype=float),
                        n_pre=sc.n_pre, n_post=sc.n_post)
    proj = net.connect(src, pop, csr, delay=sc.delay, plasticity=rule)
    if not learning:
        proj.learning = False
    if reward0:
        proj.reward(reward0)
    segments = segments or [(sc.t_end, [])]
    results, controls = [], []
    for t_stop, actions in segments:
        results.append(net.run(t_stop - net.t))
        assert net.t == t_stop  # the tests use split times whose differences are exact
        if read_between:
            proj.weights, proj.to_scipy(), proj.traces(), proj.learning
            if rule.is_reward:
                proj.reward_level()
        if read_between == "set":
            proj.learning = proj.learning  # setting the current value is no change
        for action, value in actions:
            if action == "learning":
                proj.learning = value
            elif action == "reward":
                proj.reward(value)
            elif action == "set_weights":
                proj.set_weights(value)
            else:
                raise ValueError(action)
            controls.append((net.t, action, value))
    sp = net.spikes
    posts = [list(sp.times[sp.ids == j]) for j in range(sc.n_post)]
    for j in range(sc.n_post):
        # the postsynaptic neurons fire exactly at their drivers' (distinct) spike times
        assert posts[j] == sorted({t for t in sc.post_times.get(j, []) if t <= net.t}), (j, posts[j])
    return EngineRun(net, proj, results, controls, posts)


def run_reference(rule, sc, er, w0, *, learning=True, reward0=0.0):
    arrivals = [[t + sc.delay for t in sorted(sc.pre_times.get(i, [])) if t + sc.delay <= er.net.t]
                for i in range(sc.n_pre)]
    return ref.simulate(rule, sc.pre, sc.post, w0, arrivals, er.posts, er.net.t,
                        controls=er.controls, learning=learning, reward0=reward0)


def assert_weights_match(w, w_ref, rule, rel=1e-12):
    """|w - w_ref| <= rel * max(|w_ref|, w_max - w_min): relative to the weight, or to the
    weight range for a weight that ends near zero after cancelling updates (there a
    relative error of two correct float64 computations is meaningless)."""
    scale = rule.w_max - rule.w_min
    err = np.abs(np.asarray(w) - w_ref)
    tol = rel * np.maximum(np.abs(w_ref), scale)
    assert np.all(err <= tol), (np.max(err / np.maximum(np.abs(w_ref), scale)), w, w_ref)


def total(results, field):
    return sum(getattr(r.counts, field) for r in results)


# ============================================================================ rule sets

def _mu(dep, mu):
    """mu is given only with the power-law dependence (the rule rejects it otherwise)."""
    return mu if dep == "power" else 0.0


def _pair_rules():
    out = []
    for inter in ("all", "nearest", "nearest_pre"):
        for dep in ("additive", "multiplicative", "power"):
            out.append((f"stdp-{inter}-{dep}", STDP(a_plus=0.02, a_minus=0.021, tau_plus=16.0,
                                                    tau_minus=25.0, interaction=inter,
                                                    weight_dependence=dep, mu=_mu(dep, 0.4)), False))
            # amplitudes of the order of the range: weights hit the hard bounds (soft
            # bounds are overshot only by a step larger than the range)
            big = (1.5, 1.6) if dep == "multiplicative" else (0.35, 0.4)
            out.append((f"stdp-{inter}-{dep}-bounds",
                        STDP(a_plus=big[0], a_minus=big[1], tau_plus=16.0, tau_minus=25.0,
                             interaction=inter, weight_dependence=dep, mu=_mu(dep, 0.3)), True))
    out.append(("stdp-inhibitory", STDP(a_plus=0.015, a_minus=0.01, w_min=-1.0, w_max=0.0), False))
    out.append(("stdp-inhibitory-bounds",
                STDP(a_plus=0.4, a_minus=0.3, w_min=-1.0, w_max=0.0, weight_dependence="power",
                     mu=0.6), True))
    out.append(("stdp-offset-range", STDP(a_plus=0.05, a_minus=0.05, w_min=0.2, w_max=1.2,
                                          weight_dependence="multiplicative"), False))
    return out


def _other_rules():
    return [
        ("triplet-all", Triplet.visual_cortex_all_to_all(scale=5.0), False),
        ("triplet-nearest", Triplet.visual_cortex_nearest(scale=2.0), False),
        ("triplet-all-bounds", Triplet.visual_cortex_all_to_all(scale=60.0), True),
        ("triplet-nearest-bounds", Triplet.visual_cortex_nearest(scale=15.0), True),
        ("triplet-custom", Triplet(0.01, 0.02, 0.015, 0.005, 12.0, 30.0, 80.0, 60.0, 0.0, 1.0,
                                   "nearest"), False),
        ("triplet-inhibitory-bounds", Triplet(0.1, 0.2, 0.15, 0.05, 12.0, 30.0, 80.0, 60.0, -1.0, 0.0,
                                              "all"), True),
        ("vogels", Vogels(eta=0.01, rho0=10.0, tau=15.0, w_min=-1.0, w_max=0.0), False),
        ("vogels-bounds", Vogels(eta=0.5, rho0=10.0, tau=15.0, w_min=-1.0, w_max=0.0), True),
        ("vogels-excitatory", Vogels(eta=0.05, rho0=30.0, tau=10.0, w_min=0.0, w_max=1.0), False),
    ]


RULES = _pair_rules() + _other_rules()


# ============================================================================ engine vs reference

@pytest.mark.parametrize("name,rule,hits", RULES, ids=[r[0] for r in RULES])
def test_engine_equals_reference(name, rule, hits):
    """Hand-chosen trains (bursts, simultaneous pre/post spikes, multapses, a silent row):
    weights within 1e-12 of the reference, counts equal to its counts, traces equal."""
    nnz = len(RICH.pre)
    w0 = _w0(rule, nnz)
    er = run_engine(rule, RICH, w0)
    rr = run_reference(rule, RICH, er, w0)
    assert_weights_match(er.proj.weights, rr.weights, rule)
    assert (rr.clipped > 0) == hits  # the "-bounds" cases do hit the bounds, the others do not
    c = er.results[0].counts
    assert c.trace_updates == rr.trace_updates
    assert c.weight_updates == rr.weight_updates
    tr = er.proj.traces()
    np.testing.assert_allclose(tr["pre"], rr.pre_traces, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(tr["post"], rr.post_traces, rtol=1e-12, atol=1e-300)
    w = er.proj.weights
    assert np.all((w >= rule.w_min) & (w <= rule.w_max))


@pytest.mark.parametrize("model", [LIF_EXP_INH, LIF_GENERAL], ids=["frame-exp", "general"])
@pytest.mark.parametrize("name,rule", [("vogels", RULES[-3][1]), ("stdp", RULES[0][1]),
                                       ("triplet", _other_rules()[0][1])])
def test_other_neuron_representations(model, name, rule):
    """The same rules on postsynaptic neurons with an exponential inhibitory channel (frame
    and general closed-form representations) equal the reference."""
    w0 = _w0(rule, len(RICH.pre))
    er = run_engine(rule, RICH, w0, model=model)
    rr = run_reference(rule, RICH, er, w0)
    assert_weights_match(er.proj.weights, rr.weights, rule)
    assert er.results[0].counts.weight_updates == rr.weight_updates


SPLITS = [(4.25, []), (14.5, []), (20.0, []), (31.0, []), (41.5, []), (41.5, []), (63.125, []),
          (100.0, [])]


@pytest.mark.parametrize("name,rule,hits", RULES[::3] + RULES[-4:],
                         ids=[r[0] for r in RULES[::3] + RULES[-4:]])
def test_split_runs_are_bitwise_one_run(name, rule, hits):
    """Runs split at arbitrary times, some exactly at simultaneous pre/post instants and one
    of zero length, give bitwise the weights, traces, spikes and counts of one run."""
    w0 = _w0(rule, len(RICH.pre))
    one = run_engine(rule, RICH, w0)
    split = run_engine(rule, RICH, w0, segments=SPLITS)
    assert np.array_equal(one.proj.weights, split.proj.weights)
    for side in ("pre", "post"):
        assert np.array_equal(one.proj.traces()[side], split.proj.traces()[side])
    assert one.results[0].counts == sum((r.counts for r in split.results[1:]), split.results[0].counts)
    assert np.array_equal(one.net.spikes.times, split.net.spikes.times)


def test_learning_off_and_on_between_runs():
    """Learning off: weights frozen bitwise, no weight updates, traces still follow every
    spike (so the weights after switching learning on again equal the reference, which
    keeps its traces through the pause).  set_weights between runs is taken up."""
    for rule in (RULES[0][1], RULES[4][1], RULES[12][1], _other_rules()[1][1], _other_rules()[5][1]):
        w0 = _w0(rule, len(RICH.pre))
        w_new = rule.w_min + (rule.w_max - rule.w_min) * np.linspace(0.9, 0.1, len(RICH.pre))
        segs = [(12.5, [("learning", False)]), (32.0, [("learning", True)]),
                (45.0, [("set_weights", w_new)]), (60.0, [("learning", False)]),
                (65.0, [("learning", False), ("learning", True)]), (100.0, [])]
        er = run_engine(rule, RICH, w0, segments=segs)
        rr = run_reference(rule, RICH, er, w0)
        assert_weights_match(er.proj.weights, rr.weights, rule)
        # learning is off in [12.5, 32] and [60, 65]
        assert er.results[1].counts.weight_updates == 0
        assert er.results[4].counts.weight_updates == 0
        assert er.results[2].counts.weight_updates > 0
        assert total(er.results, "weight_updates") == rr.weight_updates
        assert total(er.results, "trace_updates") == rr.trace_updates
        # traces did not stop while learning was off
        assert er.results[1].counts.trace_updates > 0
        # a network built with learning off from the start never changes a weight
        off = run_engine(rule, RICH, w0, learning=False)
        assert np.array_equal(off.proj.weights, w0)
        assert off.results[0].counts.weight_updates == 0
        assert off.results[0].counts.trace_updates == er.results[0].counts.trace_updates + sum(
            r.counts.trace_updates for r in er.results[1:])
        assert not off.proj.learning and er.proj.learning


def test_run_stopped_by_max_events_continues_exactly():
    """A run stopped by max_events and continued must give the weights and spikes of an
    uninterrupted run.  Regression (fixed in de2c1dd): a presynaptic arrival and a
    postsynaptic spike both at t = 2 ms; with max_events=1 the run stopped inside the
    instant, so the threshold test and the potentiation ran before the arrival
    (depression 0.5 -> 0.4 instead of potentiation 0.5 -> 0.6), and the spike recorded
    before the stop was missing from ``net.spikes``."""
    def build():
        net = ev.Network(seed=0)
        post = net.population(1, LIF_DELTA)
        net.connect(net.spike_source([2.0], [0], n=1), post, ev.one_to_one(), weight=DRIVE_W, delay=0.0)
        proj = net.connect(net.spike_source([1.0], [0], n=1), post, ev.one_to_one(), weight=0.5,
                           delay=1.0, plasticity=STDP(a_plus=0.1, a_minus=0.1))
        return net, proj

    net, proj = build()
    net.run(10.0)
    assert np.array_equal(proj.weights, [0.6]) and np.array_equal(net.spikes.times, [2.0])
    for m in (1, 2, 3):
        net, proj = build()
        for _ in range(20):
            try:
                net.run(10.0 - net.t, max_events=m)
                break
            except RuntimeError:
                pass
        assert net.t == 10.0
        assert np.array_equal(proj.weights, [0.6]), m
        assert np.array_equal(net.spikes.times, [2.0]), m


def test_counts_of_a_run_stopped_by_max_events_are_kept():
    """The work done before a max_events stop is part of the network's counts: a stopped
    and continued run has the counts of an uninterrupted one."""
    rule = STDP(a_plus=0.05, a_minus=0.06)
    w0 = _w0(rule, len(RICH.pre))
    one = run_engine(rule, RICH, w0)
    er = run_engine(rule, RICH, w0, segments=[(0.0, [])])
    stops = 0
    for _ in range(100):
        try:
            er.net.run(100.0 - er.net.t, max_events=4)
            break
        except RuntimeError:
            stops += 1
    assert stops >= 3 and er.net.t == 100.0
    assert np.array_equal(er.proj.weights, one.proj.weights)
    assert np.array_equal(er.net.spikes.times, one.net.spikes.times)
    c, c1 = er.net.counts, one.net.counts
    assert (c.trace_updates, c.weight_updates, c.spikes) == (c1.trace_updates, c1.weight_updates, c1.spikes)


def test_learning_off_freezes_weights_bitwise():
    rule = RULES[1][1]
    w0 = _w0(rule, len(RICH.pre))
    er = run_engine(rule, RICH, w0, segments=[(12.5, [("learning", False)])])
    w_before = er.proj.weights.copy()
    r = er.net.run(40.0)
    assert np.array_equal(er.proj.weights, w_before)
    assert r.counts.weight_updates == 0 and r.counts.trace_updates > 0


# ------------------------------------------------------------------- reward-modulated STDP

REWARD_SEGMENTS = [
    (9.0, [("reward", 0.8)]),
    (21.0, [("reward", -0.3)]),          # the level changes sign later: weights fall back
    (33.5, [("learning", False)]),
    (45.0, [("reward", 0.5), ("learning", True)]),
    (61.5, [("reward", -2.0)]),          # at a presynaptic arrival time
    (70.0, [("set_weights", np.linspace(0.9, 0.1, len(RICH.pre)))]),
    (80.0, [("reward", 3.0)]),
    (100.0, []),
]


@pytest.mark.parametrize("tau_d", [40.0, math.inf], ids=["tau_d=40", "tau_d=inf"])
@pytest.mark.parametrize("inter", ["all", "nearest", "nearest_pre"])
@pytest.mark.parametrize("big", [False, True], ids=["inside", "bounds"])
def test_reward_stdp_equals_reference(tau_d, inter, big):
    """Eligibility from the pair rule, weights integrated against a reward level that the
    user changes between runs (rises, sign changes, learning paused), vs the reference
    that integrates d(s) c(s) with scipy.integrate.quad on every interval."""
    rule = RewardSTDP(a_plus=1.0 if big else 0.05, a_minus=1.2 if big else 0.06,
                      tau_plus=15.0, tau_minus=25.0, tau_c=30.0, tau_d=tau_d, w_min=0.0,
                      w_max=1.0, interaction=inter)
    w0 = _w0(rule, len(RICH.pre))
    er = run_engine(rule, RICH, w0, segments=REWARD_SEGMENTS, reward0=0.25)
    rr = run_reference(rule, RICH, er, w0, reward0=0.25)
    assert_weights_match(er.proj.weights, rr.weights, rule)
    assert math.isclose(er.proj.reward_level(), rr.reward_level, rel_tol=1e-13, abs_tol=1e-300)
    assert total(er.results, "weight_updates") == rr.weight_updates
    assert total(er.results, "trace_updates") == rr.trace_updates
    assert not np.array_equal(er.proj.weights, w0)
    if big:
        assert rr.clipped > 0
    # the weights move only while there is reward: a zero reward level changes nothing
    zero = run_engine(rule, RICH, w0)
    assert np.array_equal(zero.proj.weights, w0)


def test_reward_stdp_inhibitory_equals_reference():
    """Reward-modulated STDP on an inhibitory projection (w in [-2, 0]): the efficacy -w
    follows the rule, equal to the reference."""
    rule = RewardSTDP(a_plus=0.4, a_minus=0.5, tau_plus=15.0, tau_minus=25.0, tau_c=30.0, tau_d=40.0,
                      w_min=-2.0, w_max=0.0, interaction="nearest")
    w0 = _w0(rule, len(RICH.pre))
    er = run_engine(rule, RICH, w0, segments=REWARD_SEGMENTS[:5] + REWARD_SEGMENTS[6:], reward0=0.25)
    rr = run_reference(rule, RICH, er, w0, reward0=0.25)
    assert_weights_match(er.proj.weights, rr.weights, rule)
    assert rr.clipped > 0 and not np.array_equal(er.proj.weights, w0)
    assert np.all(er.proj.weights <= 0.0)


def test_reward_level_decays_and_adds():
    rule = RewardSTDP(tau_d=50.0)
    er = run_engine(rule, RICH, _w0(rule, len(RICH.pre)), segments=[(10.0, [("reward", 2.0)]),
                                                                     (35.0, [("reward", -0.5)]),
                                                                     (60.0, [])], reward0=1.0)
    expect = 1.0 * math.exp(-60.0 / 50.0) + 2.0 * math.exp(-50.0 / 50.0) - 0.5 * math.exp(-25.0 / 50.0)
    assert math.isclose(er.proj.reward_level(), expect, rel_tol=1e-14)


def test_reward_split_runs_bitwise():
    rule = RewardSTDP(a_plus=0.3, a_minus=0.35, tau_c=40.0, tau_d=60.0)
    w0 = _w0(rule, len(RICH.pre))
    segs1 = [(20.0, [("reward", 1.5)]), (100.0, [])]
    segs2 = [(5.5, []), (20.0, [("reward", 1.5)]), (31.0, []), (41.5, []), (77.75, []), (100.0, [])]
    a = run_engine(rule, RICH, w0, segments=segs1, reward0=0.5)
    b = run_engine(rule, RICH, w0, segments=segs2, reward0=0.5)
    assert np.array_equal(a.proj.weights, b.proj.weights)


def test_reading_weights_does_not_change_the_run():
    """Reading weights (or exporting them) between runs is an observation: the run that
    follows must be bitwise the same as without it.

    Regression (fixed in de2c1dd): for RewardSTDP, ``Projection.weights`` and
    ``to_scipy()`` integrated every synapse up to now *in place*, so the integral over an
    interval was split into two rounded parts and later weights differed in the last
    bits from an unobserved run."""
    for rule in (RULES[0][1], RewardSTDP(a_plus=0.3, a_minus=0.35, tau_c=40.0, tau_d=60.0)):
        w0 = _w0(rule, len(RICH.pre))
        segs = [(5.5, []), (20.0, [("reward", 1.5)] if rule.is_reward else []), (31.0, []),
                (41.5, []), (77.75, []), (100.0, [])]
        quiet = run_engine(rule, RICH, w0, segments=segs, reward0=0.5 if rule.is_reward else 0.0)
        looked = run_engine(rule, RICH, w0, segments=segs, reward0=0.5 if rule.is_reward else 0.0,
                            read_between=True)
        assert np.array_equal(quiet.proj.weights, looked.proj.weights), type(rule).__name__


def test_setting_learning_to_its_value_does_not_change_the_run():
    """``proj.learning = proj.learning`` between runs changes nothing.  Regression (fixed
    in 80aa699): for RewardSTDP the setter integrated every synapse up to now in place even
    when the value did not change, which split the integral and changed the last bits of
    later weights."""
    rule = RewardSTDP(a_plus=0.3, a_minus=0.35, tau_c=40.0, tau_d=60.0)
    w0 = _w0(rule, len(RICH.pre))
    segs = [(5.5, []), (20.0, [("reward", 1.5)]), (31.0, []), (41.5, []), (77.75, []), (100.0, [])]
    quiet = run_engine(rule, RICH, w0, segments=segs, reward0=0.5)
    touched = run_engine(rule, RICH, w0, segments=segs, reward0=0.5, read_between="set")
    assert np.array_equal(quiet.proj.weights, touched.proj.weights)


def test_spike_is_transmitted_with_the_weight_it_found():
    """A presynaptic spike is delivered with the weight before its own update (depression
    after delivery; reward-modulated weights integrated up to the arrival first).  A
    non-leaky delta-synapse neuron sums what it receives: each jump of V, sampled just
    before and after an arrival, equals the reference weight at that arrival."""
    lif = ev.LIF(tau_m=math.inf, tau_in=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0,
                 v_th=1000.0, v_reset=0.0, t_ref=0.0)
    arrivals = [3.0, 5.0, 5.5, 9.0, 12.25]
    post_t = [1.0, 4.0, 10.0]
    for rule, reward in ((STDP(a_plus=0.1, a_minus=0.15, weight_dependence="multiplicative"), 0.0),
                         (RewardSTDP(a_plus=0.5, a_minus=0.2, tau_c=6.0, tau_d=30.0, w_max=1.0), 2.0)):
        net = ev.Network(seed=0)
        pop = net.population(1, lif)
        net.connect(net.spike_source(post_t, [0] * 3, n=1), pop, ev.one_to_one(), weight=DRIVE_W, delay=0.0)
        proj = net.connect(net.spike_source(np.array(arrivals) - 0.5, [0] * 5, n=1), pop, ev.one_to_one(),
                           weight=0.6, delay=0.5, plasticity=rule)
        if reward:
            proj.reward(reward)
        samples = sorted({t for a in arrivals for t in (a, a + 0.125)})
        net.record_state([0], samples)
        r = net.run(15.0)
        v = dict(zip(r.states.times, r.states.v[:, 0]))
        for a in arrivals:
            before = ref.simulate(rule, [0], [0], [0.6], [[x for x in arrivals if x < a]],
                                  [[x for x in post_t if x < a]], a, reward0=reward)
            assert math.isclose(v[a + 0.125] - v[a], before.weights[0], rel_tol=1e-12), (rule, a)
        assert len(set(np.round(np.diff([v[a + 0.125] - v[a] for a in arrivals]), 12))) > 1


# ------------------------------------------------------------ presynaptic neurons, recurrence

def test_plastic_projection_from_neurons_and_recurrent():
    """Plastic synapses from a neuron population (arrival = spike time + delay, with a
    non-binary delay) and a recurrent plastic projection whose postsynaptic spikes are also
    its presynaptic spikes: both equal the reference fed with the recorded spikes."""
    net = ev.Network(seed=3)
    a = net.population(3, LIF_DELTA, name="a")
    b = net.population(2, LIF_DELTA, name="b")
    da = {0: [1.0, 4.0, 4.1, 30.0], 1: [2.0, 9.3, 22.0], 2: [5.0, 5.0, 40.0]}
    db = {0: [3.3, 10.0, 26.0], 1: [6.4, 9.3 + 0.7]}
    for pop, d, n in ((a, da, 3), (b, db, 2)):
        t, i = _spikes(d, n)
        net.connect(net.spike_source(t, i, n=n), pop, ev.one_to_one(), weight=DRIVE_W, delay=0.0)
    rule_ab = STDP(a_plus=0.1, a_minus=0.12, tau_plus=10.0, tau_minus=14.0, interaction="nearest_pre",
                   weight_dependence="power", mu=0.5)
    rule_aa = Triplet(0.02, 0.05, 0.03, 0.01, 10.0, 20.0, 50.0, 70.0)
    delay_ab = 0.7
    delay_aa = 1.1
    w_ab = np.array([0.2, 0.5, 0.8, 0.4, 0.6, 0.3])
    p_ab = net.connect(a, b, ev.all_to_all(), weight=w_ab.copy(), delay=delay_ab, plasticity=rule_ab)
    p_aa = net.connect(a, a, ev.all_to_all(allow_autapses=False), weight=0.5, delay=delay_aa,
                       plasticity=rule_aa)
    net.run(60.0)
    sp = net.spikes
    sa = [list(sp.times[sp.ids == j]) for j in range(3)]
    sb = [list(sp.times[sp.ids == 3 + j]) for j in range(2)]
    assert sa == [sorted(set(da[j])) for j in range(3)] and sb == [sorted(set(db[j])) for j in range(2)]
    for proj, rule, delay, posts in ((p_ab, rule_ab, delay_ab, sb), (p_aa, rule_aa, delay_aa, sa)):
        pre = np.repeat(np.arange(3), np.diff(proj.csr.indptr))
        w0 = w_ab if proj is p_ab else np.full(6, 0.5)
        arrivals = [[t + delay for t in sa[i] if t + delay <= net.t] for i in range(3)]
        rr = ref.simulate(rule, pre, proj.csr.indices, w0, arrivals, posts, net.t)
        assert_weights_match(proj.weights, rr.weights, rule)
        assert not np.array_equal(proj.weights, w0)
    c = net.counts
    # trace updates: each spike of a reaches both projections (one row each), each spike of
    # a and b is a postsynaptic spike of one projection
    n_a, n_b = sum(map(len, sa)), sum(map(len, sb))
    assert c.trace_updates == 2 * n_a + n_a + n_b


def test_free_running_network_equals_reference():
    """Without drivers: postsynaptic spikes caused by a Poisson drive (turned into a queued
    source because the population has plastic inputs), by a bias current (threshold
    crossings found by the candidate mechanism) and by the plastic inputs themselves;
    presynaptic spikes from a population with a lazily applied Poisson drive.  Weights equal
    the reference fed with the recorded spikes."""
    net = ev.Network(seed=11)
    lif = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
                 t_ref=2.0)
    pre = net.population(20, lif, name="pre", v_init=(0.0, 19.0))
    net.poisson_drive(pre, rate=8000.0, weight=0.5)
    post = net.population(4, lif, name="post", v_init=(0.0, 19.0))
    net.poisson_drive(post, rate=4000.0, weight=0.5)
    biased = net.population(3, ev.LIF(tau_m=20.0, tau_syn_exc=4.0, tau_syn_inh=0.0, v_rest=0.0,
                                      v_th=20.0, v_reset=10.0, t_ref=2.0, i_bias=21.0),
                            name="biased", v_init=(0.0, 19.0))
    rule_a = STDP(a_plus=0.3, a_minus=0.32, w_max=4.0, interaction="nearest", weight_dependence="power",
                  mu=0.3)
    rule_b = Triplet.visual_cortex_all_to_all(w_max=2.0, scale=20.0)
    pa = net.connect(pre, post, ev.fixed_indegree(8), weight=2.0, delay=1.3, plasticity=rule_a)
    pb = net.connect(pre, biased, ev.fixed_indegree(6), weight=1.0, delay=0.9, plasticity=rule_b)
    net.run(150.0)
    net.run(100.0)
    sp = net.spikes
    off = net.populations
    times = {name: [list(sp.times[sp.ids == off[name][0] + j]) for j in range(off[name][1])]
             for name in ("pre", "post", "biased")}
    assert min(map(len, times["post"])) >= 3 and min(map(len, times["biased"])) >= 3
    for proj, rule, name, delay, w0 in ((pa, rule_a, "post", 1.3, 2.0), (pb, rule_b, "biased", 0.9, 1.0)):
        rows = np.repeat(np.arange(20), np.diff(proj.csr.indptr))
        # spikes still in flight at the end have not reached the synapses
        arrivals = [[t + delay for t in times["pre"][i] if t + delay <= net.t] for i in range(20)]
        rr = ref.simulate(rule, rows, proj.csr.indices, np.full(proj.n_synapses, w0), arrivals,
                          times[name], net.t)
        assert_weights_match(proj.weights, rr.weights, rule)
        assert not np.array_equal(proj.weights, np.full(proj.n_synapses, w0))


def test_connect_does_not_alias_the_callers_weight_array():
    """The weights a user passes are copied: a plastic run (or set_weights) must not write
    into the caller's array.  Regression (fixed in de2c1dd): ``connect(pre, post, rule,
    weight=array)`` stored the array itself as the CSR's weights, so learning changed the
    user's "initial weights" in place."""
    net = ev.Network(seed=3)
    a = net.spike_source([1.0, 2.0], [0, 1], n=2)
    b = net.population(1, LIF_DELTA)
    net.connect(net.spike_source([2.5], [0], n=1), b, ev.one_to_one(), weight=DRIVE_W, delay=0.0)
    w0 = np.array([0.3, 0.6])
    proj = net.connect(a, b, ev.all_to_all(), weight=w0, delay=0.5, plasticity=STDP(a_plus=0.1))
    net.run(5.0)
    assert not np.array_equal(proj.weights, [0.3, 0.6])
    assert np.array_equal(w0, [0.3, 0.6])


def test_many_synapses_row_lookup():
    """More than 64 synapses per projection with empty rows and multapses (the transpose
    index finds a synapse's presynaptic row through a block lookup): equal to the
    reference."""
    rng = np.random.default_rng(5)
    n_pre, n_post = 40, 6
    pre = np.sort(rng.choice(np.r_[0:12, 15:31, 34:40], size=300))  # rows 12-14, 31-33 empty
    post = rng.integers(0, n_post, size=300)
    pre_times = {i: sorted(np.round(rng.uniform(0, 80, rng.integers(1, 5)) * 4) / 4) for i in range(n_pre)}
    post_times = {j: sorted(set(np.round(rng.uniform(0, 80, 6) * 4) / 4)) for j in range(n_post)}
    sc = Scenario(n_pre, n_post, tuple(pre), tuple(post), pre_times, post_times, 0.5, 90.0)
    for rule in (STDP(a_plus=0.01, a_minus=0.011, interaction="nearest_pre", weight_dependence="power",
                      mu=0.7), Vogels(eta=0.01)):
        w0 = _w0(rule, 300)
        er = run_engine(rule, sc, w0)
        rr = run_reference(rule, sc, er, w0)
        assert_weights_match(er.proj.weights, rr.weights, rule)
        assert er.results[0].counts.weight_updates == rr.weight_updates


# ============================================================================ the STDP window

N_PAIR, PERIOD, T0 = 60, 1000.0, 200.0
DELTAS = np.r_[np.arange(-100.0, 101.0, 5.0), -0.25, 0.25]


def _pairing_run(rule, w0):
    """60 pairings at 1 Hz: presynaptic arrival at T_k = 200 + 1000 k, postsynaptic spike at
    T_k + Delta; one synapse (and postsynaptic neuron) per Delta."""
    n = len(DELTAS)
    Tk = T0 + PERIOD * np.arange(N_PAIR)
    delay = 1.0
    pre_t = {i: list(Tk - delay) for i in range(n)}
    post_t = {i: list(Tk + DELTAS[i]) for i in range(n)}
    sc = Scenario(n, n, tuple(range(n)), tuple(range(n)), pre_t, post_t, delay,
                  T0 + PERIOD * N_PAIR)
    er = run_engine(rule, sc, np.full(n, w0))
    return er.proj.weights - w0, er


def _geo(q, lo, hi):
    """sum_{j=lo}^{hi} q^j."""
    return sum(q ** j for j in range(lo, hi + 1))


def _additive_all_window(rule, D):
    """Exact total change of additive all-to-all pair STDP over the protocol, every pair
    included (the pairings 1 s apart add geometric cross terms q^j, q = e^{-P/tau})."""
    qp = math.exp(-PERIOD / rule.tau_plus)
    qm = math.exp(-PERIOD / rule.tau_minus)
    n = N_PAIR
    if D >= 0:
        # post k sees pre m <= k at D + (k-m) P; pre k sees post m < k at (k-m) P - D
        pot = rule.a_plus * math.exp(-D / rule.tau_plus) * sum(_geo(qp, 0, k) for k in range(n))
        dep = rule.a_minus * math.exp(D / rule.tau_minus) * sum(_geo(qm, 1, k) for k in range(n))
    else:
        a = -D
        dep = rule.a_minus * math.exp(-a / rule.tau_minus) * sum(_geo(qm, 0, k) for k in range(n))
        pot = rule.a_plus * math.exp(a / rule.tau_plus) * sum(_geo(qp, 1, k) for k in range(n))
    return pot - dep


def _nearest_window(rule, D):
    """Nearest-spike (symmetric and presynaptic-centred alike in this protocol): each spike
    pairs with the nearest one of the other side before it, so additively
    n A+ e^{-D/tau+} - (n-1) A- e^{-(P-D)/tau-} for D >= 0 and its mirror for D < 0."""
    n = N_PAIR
    if D >= 0:
        return (n * rule.a_plus * math.exp(-D / rule.tau_plus)
                - (n - 1) * rule.a_minus * math.exp(-(PERIOD - D) / rule.tau_minus))
    a = -D
    return (-n * rule.a_minus * math.exp(-a / rule.tau_minus)
            + (n - 1) * rule.a_plus * math.exp(-(PERIOD - a) / rule.tau_plus))


def _dependent_window(rule, D, w0):
    """Weight-dependent rules: every pairing has one potentiation (D >= 0) or one
    depression (D < 0) of size A x f(u), x = e^{-|D|/tau}; the other side's pairs are
    1 s - 100 ms apart and below 1e-12 of the change (asserted by the caller).
    Multiplicative: 1 - u_n = (1 - u_0)(1 - a x)^n resp. u_n = u_0 (1 - a x)^n in closed
    form; power law (mu in (0, 1)): the per-pairing closed form iterated n times."""
    rng = rule.w_max - rule.w_min
    u = (w0 - rule.w_min) / rng
    mu = {"multiplicative": 1.0, "power": rule.mu}[rule.weight_dependence]
    if D >= 0:
        ax = rule.a_plus / rng * math.exp(-D / rule.tau_plus)
        if mu == 1.0:
            u = 1.0 - (1.0 - u) * (1.0 - ax) ** N_PAIR
        else:
            for _ in range(N_PAIR):
                u = u + ax * (1.0 - u) ** mu
    else:
        ax = rule.a_minus / rng * math.exp(D / rule.tau_minus)
        if mu == 1.0:
            u = u * (1.0 - ax) ** N_PAIR
        else:
            for _ in range(N_PAIR):
                u = u - ax * u ** mu
    return rule.w_min + rng * u - w0


WINDOW_RULES = [(f"{inter}-{dep}", STDP(a_plus=0.005, a_minus=0.00525, tau_plus=20.0, tau_minus=20.0,
                                        interaction=inter, weight_dependence=dep, mu=_mu(dep, 0.5)))
                for inter in ("all", "nearest", "nearest_pre")
                for dep in ("additive", "multiplicative", "power")]
WINDOW_RULES.append(("all-additive-asymmetric-taus",
                     STDP(a_plus=0.005, a_minus=0.004, tau_plus=16.8, tau_minus=33.7)))


@pytest.mark.parametrize("name,rule", WINDOW_RULES, ids=[r[0] for r in WINDOW_RULES])
def test_stdp_window(name, rule):
    """Weight change vs Delta t = t_post - t_pre over 60 pairings at 1 Hz matches the
    closed-form window of the rule within 1e-9 (Delta t = 0 counts as pre-before-post)."""
    w0 = 0.5
    dw, _ = _pairing_run(rule, w0)
    expect = np.empty(len(DELTAS))
    for k, D in enumerate(DELTAS):
        if rule.weight_dependence == "additive":
            expect[k] = _additive_all_window(rule, D) if rule.interaction == "all" else _nearest_window(rule, D)
        else:
            expect[k] = _dependent_window(rule, D, w0)
    np.testing.assert_allclose(dw, expect, rtol=1e-9, atol=0.0)
    # the textbook window: 60 A+ e^{-D/tau+} for D >= 0, -60 A- e^{D/tau-} for D < 0
    if rule.weight_dependence == "additive":
        textbook = np.where(DELTAS >= 0, N_PAIR * rule.a_plus * np.exp(-DELTAS / rule.tau_plus),
                            -N_PAIR * rule.a_minus * np.exp(DELTAS / rule.tau_minus))
        np.testing.assert_allclose(dw, textbook, rtol=1e-9, atol=0.0)
    else:
        # the neglected cross-pairing terms: at most n A e^{-(P - 100)/tau} / (1 - q) per side
        amax = max(rule.a_plus, rule.a_minus)
        tmax = max(rule.tau_plus, rule.tau_minus)
        bound = N_PAIR * amax * math.exp(-(PERIOD - 100.0) / tmax) / (1 - math.exp(-PERIOD / tmax))
        assert bound < 1e-12 * np.min(np.abs(expect))
    assert np.all(dw[DELTAS >= 0] > 0) and np.all(dw[DELTAS < 0] < 0)


def test_triplet_without_triplet_terms_is_the_pair_rule():
    """Pfister & Gerstner's rule with A3 = 0 is additive all-to-all pair STDP, whatever the
    slow time constants: bitwise the same weights."""
    pair = STDP(a_plus=0.03, a_minus=0.035, tau_plus=12.0, tau_minus=22.0)
    trip = Triplet(0.03, 0.0, 0.035, 0.0, 12.0, 22.0, 300.0, 7.0)
    w0 = _w0(pair, len(RICH.pre))
    a = run_engine(pair, RICH, w0)
    b = run_engine(trip, RICH, w0)
    assert np.array_equal(a.proj.weights, b.proj.weights)
    assert not np.array_equal(a.proj.weights, w0)


def test_power_law_limits_are_additive_and_multiplicative():
    """Guetig et al.'s power law with mu = 0 is the additive rule and with mu = 1 the
    multiplicative one: bitwise the same weights."""
    for inter in ("all", "nearest_pre"):
        kw = dict(a_plus=0.3, a_minus=0.35, tau_plus=16.0, tau_minus=25.0, interaction=inter)
        w0 = _w0(STDP(**kw), len(RICH.pre))
        for mu, dep in ((0.0, "additive"), (1.0, "multiplicative")):
            a = run_engine(STDP(weight_dependence="power", mu=mu, **kw), RICH, w0)
            b = run_engine(STDP(weight_dependence=dep, **kw), RICH, w0)
            assert np.array_equal(a.proj.weights, b.proj.weights)


def test_vogels_window():
    """Vogels et al. (2011): a symmetric window eta e^{-|Delta t|/tau} per pairing, minus
    eta alpha per presynaptic spike (exact all-to-all closed form with cross terms)."""
    rule = Vogels(eta=0.001, rho0=5.0, tau=20.0, w_min=-5.0, w_max=0.0)
    w0 = -2.5
    dw, _ = _pairing_run(rule, w0)
    q = math.exp(-PERIOD / rule.tau)
    n = N_PAIR
    s0 = sum(_geo(q, 0, k) for k in range(n))
    s1 = sum(_geo(q, 1, k) for k in range(n))
    a = np.abs(DELTAS)
    de = rule.eta * (np.exp(-a / rule.tau) * s0 + np.exp(a / rule.tau) * s1) - n * rule.eta * rule.alpha
    np.testing.assert_allclose(dw, -de, rtol=1e-9, atol=0.0)  # inhibitory: w = -e
    np.testing.assert_allclose(dw[DELTAS > 0][:-1], dw[DELTAS < 0][::-1][1:], rtol=1e-9)


# ============================================================================ triplet rule

FREQS = np.array([1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0])


def _frequency_protocol(rule, w0):
    """Sjostrom et al. (2001): 60 pairs at rate f, Delta t = +10 ms and -10 ms."""
    cases = [(f, D) for D in (10.0, -10.0) for f in FREQS]
    n = len(cases)
    delay = 1.0
    pre_t, post_t = {}, {}
    for k, (f, D) in enumerate(cases):
        Tk = 100.0 + (1000.0 / f) * np.arange(60)
        pre_t[k] = list(Tk - delay)
        post_t[k] = list(Tk + D)
    sc = Scenario(n, n, tuple(range(n)), tuple(range(n)), pre_t, post_t, delay, 100.0 + 60000.0 + 100.0)
    w = np.full(n, w0)
    er = run_engine(rule, sc, w)
    rr = run_reference(rule, sc, er, w)
    assert_weights_match(er.proj.weights, rr.weights, rule)
    assert rr.clipped == 0
    dw = er.proj.weights - w0
    return dw[:len(FREQS)], dw[len(FREQS):]


@pytest.mark.parametrize("params", ["all_to_all", "nearest"])
def test_triplet_frequency_dependence(params):
    """Pfister & Gerstner (2006), visual cortex sets: post-pre pairs (-10 ms) depress at
    low frequency and potentiate at high frequency (one sign change); pre-post pairs
    (+10 ms) potentiate more the higher the frequency; both potentiate at 50 Hz."""
    make = {"all_to_all": Triplet.visual_cortex_all_to_all,
            "nearest": Triplet.visual_cortex_nearest}[params]
    rule = make(w_min=0.0, w_max=1.0, scale=0.1)
    plus, minus = _frequency_protocol(rule, 0.5)
    assert minus[0] < 0 and minus[-1] > 0
    assert np.count_nonzero(np.diff(np.sign(minus))) == 1
    assert np.all(np.diff(plus) > 0) and plus[-1] > 0
    assert plus[-1] > 10 * abs(plus[0])


# ============================================================================ order independence

def _two_source_net(order, permute, rule_a, rule_b):
    """Two plastic projections (sources A and B) onto one population, with many
    simultaneous arrivals and postsynaptic spikes; ``order`` decides the order in which the
    sources are created and connected, ``permute`` shuffles the spike arrays."""
    times_a = np.array([5.0, 5.0, 7.5, 10.0, 10.0, 12.0, 20.0, 20.0, 20.0, 30.0])
    ids_a = np.array([0, 1, 2, 0, 2, 1, 0, 1, 2, 1])
    times_b = np.array([5.0, 7.5, 7.5, 10.0, 18.5, 20.0, 29.0])
    ids_b = np.array([1, 0, 1, 0, 1, 0, 1])
    times_d = np.array([6.0, 7.5, 11.0, 12.0, 21.0, 21.0, 31.0])
    ids_d = np.array([0, 1, 0, 1, 0, 1, 1])
    arrays = {"A": (times_a, ids_a, 3), "B": (times_b, ids_b, 2), "D": (times_d, ids_d, 2)}
    rng = np.random.default_rng(permute)
    net = ev.Network(seed=0)
    pop = net.population(2, LIF_DELTA)
    srcs, projs = {}, {}
    for key in order:
        t, i, n = arrays[key]
        if permute:
            p = rng.permutation(len(t))
            t, i = t[p], i[p]
        srcs[key] = net.spike_source(t, i, n=n)
    for key in order:
        if key == "D":
            net.connect(srcs["D"], pop, ev.one_to_one(), weight=DRIVE_W, delay=0.0)
        elif key == "A":
            projs["A"] = net.connect(srcs["A"], pop, ev.all_to_all(), weight=0.5, delay=1.0,
                                     plasticity=rule_a)
        else:
            projs["B"] = net.connect(srcs["B"], pop, ev.from_lists([0, 0, 1, 1], [0, 1, 1, 1], 0.4,
                                                                   n_pre=2, n_post=2),
                                     delay=2.0, plasticity=rule_b)
            if rule_b.is_reward:
                projs["B"].reward(1.0)
    net.run(50.0)
    return projs["A"].weights.copy(), projs["B"].weights.copy(), net.counts


@pytest.mark.parametrize("rules", [
    (STDP(a_plus=0.05, a_minus=0.06), Triplet.visual_cortex_nearest(scale=3.0)),
    (STDP(a_plus=0.05, a_minus=0.06, interaction="nearest_pre", weight_dependence="power", mu=0.2),
     RewardSTDP(a_plus=0.1, a_minus=0.1, tau_d=math.inf, w_max=1.0)),
], ids=["stdp+triplet", "centred+reward"])
def test_no_order_dependence(rules):
    """The same spikes given in another insertion order (shuffled spike arrays, sources
    created and connected in another order) give bitwise the same weights and counts."""
    base = _two_source_net("ADB", 0, *rules)
    assert not np.array_equal(base[0], np.full(6, 0.5))
    for order in ("BDA", "DAB", "ABD"):
        for permute in (0, 7):
            other = _two_source_net(order, permute, *rules)
            assert np.array_equal(base[0], other[0]) and np.array_equal(base[1], other[1])
            assert base[2].trace_updates == other[2].trace_updates
            assert base[2].weight_updates == other[2].weight_updates


# ============================================================================ properties

_PROP_RULES = [RULES[1][1], RULES[5][1], RULES[9][1], RULES[13][1], RULES[19][1],
               _other_rules()[2][1], _other_rules()[3][1], _other_rules()[6][1],
               RewardSTDP(a_plus=0.8, a_minus=0.9, tau_c=20.0, tau_d=30.0, interaction="nearest_pre")]


@st.composite
def _random_case(draw):
    n_pre = draw(st.integers(1, 4))
    n_post = draw(st.integers(1, 3))
    nnz = draw(st.integers(1, 8))
    pre = sorted(draw(st.lists(st.integers(0, n_pre - 1), min_size=nnz, max_size=nnz)))
    post = draw(st.lists(st.integers(0, n_post - 1), min_size=nnz, max_size=nnz))
    grid = st.integers(0, 120).map(lambda k: k * 0.25)  # coarse grid: many coincidences
    pre_t = {i: draw(st.lists(grid, max_size=6)) for i in range(n_pre)}
    post_t = {j: draw(st.lists(grid, max_size=6)) for j in range(n_post)}
    delay = draw(st.sampled_from([0.0, 0.25, 0.7, 1.0, 2.5]))
    split = draw(st.integers(1, 143)) * 0.25
    rule = draw(st.sampled_from(_PROP_RULES))
    u = draw(st.lists(st.floats(0.0, 1.0), min_size=nnz, max_size=nnz))
    w0 = np.array([rule.w_min + (rule.w_max - rule.w_min) * x for x in u])
    w0 = np.clip(w0, rule.w_min, rule.w_max)
    reward = draw(st.floats(-3.0, 3.0))
    return Scenario(n_pre, n_post, tuple(pre), tuple(post), pre_t, post_t, delay, 36.0), rule, w0, split, reward


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_random_case())
def test_random_trains_stay_in_bounds_and_equal_reference(case):
    sc, rule, w0, split, reward = case
    segs = [(split, [("reward", reward)] if rule.is_reward else []), (sc.t_end, [])]
    er = run_engine(rule, sc, w0, segments=segs, reward0=1.0 if rule.is_reward else 0.0)
    w = er.proj.weights
    assert np.all((w >= rule.w_min) & (w <= rule.w_max))
    rr = run_reference(rule, sc, er, w0, reward0=1.0 if rule.is_reward else 0.0)
    assert_weights_match(w, rr.weights, rule)
    assert total(er.results, "trace_updates") == rr.trace_updates
    assert total(er.results, "weight_updates") == rr.weight_updates


# ============================================================================ counts by hand

def test_counts_by_hand():
    """RICH with all-to-all pair STDP: trace updates = arrivals at rows with synapses +
    postsynaptic spikes; weight updates = row lengths summed over arrivals + in-degrees
    summed over postsynaptic spikes.  Presynaptic-centred: only the first postsynaptic spike
    after a presynaptic arrival updates that synapse."""
    pre = np.array(RICH.pre)
    post = np.array(RICH.post)
    row_len = np.bincount(pre, minlength=RICH.n_pre)
    in_deg = np.bincount(post, minlength=RICH.n_post)
    n_arr = {i: len(RICH.pre_times.get(i, [])) for i in range(RICH.n_pre)}
    n_post_sp = {j: len(set(RICH.post_times.get(j, []))) for j in range(RICH.n_post)}
    # rows 0-3 have synapses; row 4 has none (its 2 spikes never reach the projection)
    assert [n_arr[i] for i in range(5)] == [6, 3, 5, 1, 2] and list(row_len) == [2, 3, 2, 2, 0]
    assert [n_post_sp[j] for j in range(4)] == [5, 3, 3, 2] and list(in_deg) == [4, 2, 3, 0]
    traces = (6 + 3 + 5 + 1) + (5 + 3 + 3 + 2)
    weights = (6 * 2 + 3 * 3 + 5 * 2 + 1 * 2) + (5 * 4 + 3 * 2 + 3 * 3)
    assert (traces, weights) == (28, 68)
    rule = STDP()
    er = run_engine(rule, RICH, _w0(rule, 9))
    c = er.results[0].counts
    assert (c.trace_updates, c.weight_updates) == (28, 68)
    # presynaptic-centred, worked out by hand per synapse (arrival times = emission + 1.5):
    # pre 0 arrives 11.5 12.5 13.5 14.5 41.5 41.5; pre 1: 3.5 30.0 61.5; pre 2: 6.5 7.0 7.5
    # 34.5 35.5; pre 3: 20.0.  post 0 fires 13 14.5 30 31 70; post 1: 3 20 41.5; post 2: 7.5
    # 20 35.5.  Synapse (pre -> post): the postsynaptic spikes that find an unpaired arrival
    #   0->0: 13 (12.5), 14.5 (14.5), 70 (41.5)                 -> 3
    #   0->1: 20 (14.5), 41.5 (41.5)                            -> 2
    #   1->0 (twice): 13 (3.5), 30 (30.0), 70 (61.5)            -> 3 x 2
    #   1->2: 7.5 (3.5), 35.5 (30.0)                            -> 2
    #   2->1: 20 (7.5), 41.5 (35.5)                             -> 2
    #   2->2: 7.5 (7.5), 35.5 (35.5)                            -> 2
    #   3->0: 30 (20.0)                                         -> 1
    #   3->2: 20 (20.0)                                         -> 1
    centred_post = 3 + 2 + 6 + 2 + 2 + 2 + 1 + 1
    er = run_engine(STDP(interaction="nearest_pre"), RICH, _w0(rule, 9))
    c = er.results[0].counts
    assert (c.trace_updates, c.weight_updates) == (28, (6 * 2 + 3 * 3 + 5 * 2 + 1 * 2) + centred_post)


def test_counts_reported_by_the_counts_report():
    rule = STDP()
    er = run_engine(rule, RICH, _w0(rule, 9))
    c = er.net.counts
    assert c.as_dict()["trace_updates"] == 28 and c.as_dict()["weight_updates"] == 68
    # a static network of the same spikes does no plasticity work
    net = ev.Network(seed=1)
    pop = net.population(RICH.n_post, LIF_DELTA)
    t, i = _spikes(RICH.pre_times, RICH.n_pre)
    src = net.spike_source(t, i, n=RICH.n_pre)
    net.connect(src, pop, ev.from_lists(np.array(RICH.pre), np.array(RICH.post), 0.5, n_pre=5, n_post=4),
                delay=1.5)
    r = net.run(100.0)
    assert r.counts.trace_updates == 0 and r.counts.weight_updates == 0


# ============================================================================ API: export, memory

def test_to_scipy_equals_current_weights():
    for rule in (STDP(a_plus=0.1, a_minus=0.1), RewardSTDP(a_plus=0.5, a_minus=0.4, tau_d=80.0)):
        er = run_engine(rule, RICH, _w0(rule, 9), segments=[(30.0, [("reward", 1.0)] if rule.is_reward else [])],
                        reward0=0.0)
        er.net.run(33.0)
        M = er.proj.to_scipy()
        w = er.proj.weights
        assert M.shape == (RICH.n_pre, RICH.n_post)
        csr = er.proj.csr
        assert np.array_equal(M.indptr, csr.indptr) and np.array_equal(M.indices, csr.indices)
        assert np.array_equal(M.data, w)
        assert not np.array_equal(w, _w0(rule, 9))
        # multapse 1 -> 0 stays two stored entries
        assert M.nnz == 9


def test_weights_view_is_read_only_and_set_weights_takes_effect():
    rule = STDP(a_plus=0.05, a_minus=0.05)
    er = run_engine(rule, RICH, _w0(rule, 9), segments=[(20.0, [])])
    w = er.proj.weights
    with pytest.raises(ValueError):
        w[0] = 0.3
    er.proj.set_weights(np.full(9, 0.25))
    assert np.array_equal(er.proj.weights, np.full(9, 0.25))
    er.net.run(10.0)
    assert not np.array_equal(er.proj.weights, np.full(9, 0.25))


def test_plastic_memory_is_the_transpose_index_only():
    """Pair, triplet and Vogels rules: 4 bytes per synapse (transpose index) plus the row
    lookup (4 bytes per 64 synapses); RewardSTDP adds its eligibility (16 bytes per
    synapse).  The reported figures equal the arrays the engine allocated."""
    net = ev.Network(seed=2)
    a = net.population(300, LIF_DELTA)
    b = net.population(200, LIF_DELTA)
    p1 = net.connect(a, b, ev.fixed_indegree(40), weight=0.1, delay=1.0, plasticity=STDP())
    p2 = net.connect(a, a, ev.fixed_indegree(10), weight=0.1, delay=1.0,
                     plasticity=RewardSTDP(w_max=4.0))
    net.connect(b, a, ev.fixed_indegree(5), weight=0.1, delay=1.0)
    net.run(1.0)
    PI = net.plan.arrays.plastic
    TR = net._state.plastic

    def per_proj(a, off, k, row_bytes):
        return int(off[k + 1] - off[k]) * row_bytes

    def syn_bytes(k):      # transpose ids, row lookup, eligibility (16 B per reward synapse)
        return per_proj(PI.tsyn, PI.tsyn_off, k, 4) + per_proj(PI.blk, PI.blk_off, k, 4) + \
            per_proj(TR.elig, PI.elig_off, k, 16)

    def neuron_bytes(k):   # pre and post traces (32 B per neuron), transpose pointers, and
        # the run's ring of deferred potentiations (RING entries of 3 float64 per post neuron)
        return per_proj(TR.pre_tr, PI.pre_off, k, 32) + per_proj(TR.post_tr, PI.post_off, k, 32) + \
            per_proj(PI.tptr, PI.tptr_off, k, 8) + per_proj(TR.post_tr, PI.post_off, k, 24 * PLM.RING)

    assert PI.tsyn.itemsize == 4 and PI.blk.itemsize == 4 and TR.elig.shape[1] * TR.elig.itemsize == 16
    assert TR.pre_tr.shape[1] * 8 == 32 and PI.tptr.itemsize == 8
    sb = net.synapse_bytes()
    assert sb["plasticity_synapse_bytes"] == sum(syn_bytes(k) for k in range(2))
    assert sb["plasticity_neuron_bytes"] == sum(neuron_bytes(k) for k in range(2))
    k1 = int(PI.proj_pl[p1.index])
    per_syn_pair = syn_bytes(k1) / p1.n_synapses
    assert per_proj(PI.tsyn, PI.tsyn_off, k1, 4) == 4 * p1.n_synapses
    assert per_proj(TR.elig, PI.elig_off, k1, 16) == 0
    assert per_syn_pair <= 4.0 + 4.0 / 64 + 8.0 / p1.n_synapses
    k2 = int(PI.proj_pl[p2.index])
    assert per_proj(TR.elig, PI.elig_off, k2, 16) == 16 * p2.n_synapses


# ============================================================================ bad input

BAD_RULES = [
    (STDP, dict(tau_plus=-1.0), "tau_plus"), (STDP, dict(tau_minus=0.0), "tau_minus"),
    (STDP, dict(tau_plus=math.nan), "tau_plus"), (STDP, dict(tau_minus=math.inf), "tau_minus"),
    (STDP, dict(a_plus=-0.1), "a_plus"), (STDP, dict(a_minus=math.nan), "a_minus"),
    (STDP, dict(a_plus=True), "a_plus"), (STDP, dict(a_plus="1"), "a_plus"),
    (STDP, dict(w_min=1.0, w_max=1.0), "w_min"), (STDP, dict(w_min=2.0, w_max=1.0), "w_min"),
    (STDP, dict(w_min=-1.0, w_max=1.0), "w_min"), (STDP, dict(w_max=math.inf), "w_max"),
    (STDP, dict(w_min=math.nan), "w_min"),
    (STDP, dict(interaction="nearest-spike"), "interaction"), (STDP, dict(interaction=None), "interaction"),
    (STDP, dict(weight_dependence="soft"), "weight_dependence"),
    (STDP, dict(weight_dependence="power", mu=1.5), "mu"),
    (STDP, dict(weight_dependence="power", mu=-0.1), "mu"),
    (STDP, dict(weight_dependence="power", mu=math.nan), "mu"),
    (STDP, dict(weight_dependence="additive", mu=1.5), "mu"),
    (STDP, dict(weight_dependence="multiplicative", mu=-2.0), "mu"),
    (Triplet, dict(a3_plus=-1.0), "a3_plus"), (Triplet, dict(tau_x=0.0), "tau_x"),
    (Triplet, dict(tau_y=-5.0), "tau_y"), (Triplet, dict(a2_minus=math.nan), "a2_minus"),
    (Triplet, dict(interaction="nearest_pre"), "interaction"),
    (Triplet, dict(w_min=0.5, w_max=0.1), "w_min"),
    (Vogels, dict(eta=0.0), "eta"), (Vogels, dict(eta=-1e-3), "eta"), (Vogels, dict(rho0=-1.0), "rho0"),
    (Vogels, dict(tau=0.0), "tau"), (Vogels, dict(w_min=-1.0, w_max=2.0), "w_min"),
    (RewardSTDP, dict(tau_c=math.inf), "tau_c"), (RewardSTDP, dict(tau_c=-1.0), "tau_c"),
    (RewardSTDP, dict(tau_d=0.0), "tau_d"), (RewardSTDP, dict(tau_d=math.nan), "tau_d"),
    (RewardSTDP, dict(a_minus=-1.0), "a_minus"), (RewardSTDP, dict(interaction="pre"), "interaction"),
]


@pytest.mark.parametrize("cls,kw,name", BAD_RULES,
                         ids=[f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                              for c, kw, _ in BAD_RULES])
def test_bad_rule_fields(cls, kw, name):
    with pytest.raises((ValueError, TypeError), match=name):
        cls(**kw)


def test_bad_preset_scale():
    """The presets' own argument is named when it is bad.  Regression (fixed in 80aa699):
    the message named a2_plus, and scale=True was taken as 1."""
    for make in (Triplet.visual_cortex_all_to_all, Triplet.visual_cortex_nearest):
        for bad, exc in ((-1.0, ValueError), (math.nan, ValueError), (True, TypeError), ("1", TypeError)):
            with pytest.raises(exc, match="scale"):
                make(scale=bad)
        with pytest.raises(ValueError, match="w_min"):
            make(w_min=1.0, w_max=0.5)


def test_rule_mu_must_agree_with_weight_dependence():
    """A mu that the chosen weight dependence ignores is a silent surprise (``STDP(mu=0.5)``
    runs the additive rule): it must be rejected.  Regression (fixed in de2c1dd): ``mu``
    was ignored, and not validated, unless weight_dependence="power"."""
    with pytest.raises(ValueError, match="mu"):
        STDP(mu=0.5)
    with pytest.raises(ValueError, match="mu"):
        STDP(weight_dependence="multiplicative", mu=0.5)


def _bad_net():
    net = ev.Network(seed=4)
    pop = net.population(2, LIF_DELTA)
    src = net.spike_source([1.0, 2.0, 3.0], [0, 1, 0], n=2)
    drv = net.spike_source([2.5, 4.0], [0, 1], n=2)
    net.connect(drv, pop, ev.one_to_one(), weight=DRIVE_W, delay=0.0)
    return net, pop, src


def _good_result(net, pop, src):
    proj = net.connect(src, pop, ev.all_to_all(), weight=0.5, delay=1.0, plasticity=STDP())
    net.run(10.0)
    return proj.weights.copy(), net.spikes.times.copy()


def test_bad_connect_arguments_change_nothing():
    ref_w, ref_t = _good_result(*_bad_net())
    net, pop, src = _bad_net()
    n_proj = len(net.projections)
    bad = [
        (dict(plasticity=STDP), TypeError, "plasticity"),               # the class, not a rule
        (dict(plasticity="stdp"), TypeError, "plasticity"),
        (dict(plasticity={"a_plus": 0.1}), TypeError, "plasticity"),
        (dict(weight=1.5, plasticity=STDP()), ValueError, "weight"),      # above w_max
        (dict(weight=-0.1, plasticity=STDP()), ValueError, "weight"),     # below w_min
        (dict(weight=0.5, plasticity=Vogels()), ValueError, "weight"),    # excitatory w, inhibitory rule
        (dict(delay=np.array([1.0, 2.0, 1.0, 1.0]), plasticity=STDP()), ValueError, "delay"),
    ]
    for kw, exc, name in bad:
        args = dict(weight=0.5, delay=1.0)
        args.update(kw)
        with pytest.raises(exc, match=name):
            net.connect(src, pop, ev.all_to_all(), **args)
        assert len(net.projections) == n_proj
    # a CSR with per-synapse delays
    csr = ev.from_lists([0, 1], [0, 1], 0.5, [1.0, 2.0], n_pre=2, n_post=2)
    with pytest.raises(ValueError, match="delay"):
        net.connect(src, pop, csr, delay=None, plasticity=STDP())
    assert len(net.projections) == n_proj
    w, t = _good_result(net, pop, src)
    assert np.array_equal(w, ref_w) and np.array_equal(t, ref_t)


def test_bad_projection_calls_change_nothing():
    net, pop, src = _bad_net()
    proj = net.connect(src, pop, ev.all_to_all(), weight=0.5, delay=1.0, plasticity=STDP())
    static = net.connect(src, pop, ev.all_to_all(), weight=0.1, delay=1.0)
    net.run(2.5)
    w_before = proj.weights.copy()
    calls = [
        (lambda: proj.set_weights(np.full(4, 1.5)), ValueError, "w"),
        (lambda: proj.set_weights(np.full(4, -0.5)), ValueError, "w"),
        (lambda: proj.set_weights(np.array([0.5, 0.5, math.nan, 0.5])), ValueError, "w"),
        (lambda: proj.set_weights(np.full(3, 0.5)), ValueError, "shape"),
        (lambda: proj.set_weights(np.array(["a"] * 4)), TypeError, "w"),
        (lambda: setattr(proj, "learning", 1), TypeError, "learning"),
        (lambda: setattr(proj, "learning", "no"), TypeError, "learning"),
        (lambda: setattr(proj, "learning", None), TypeError, "learning"),
        (lambda: setattr(static, "learning", False), ValueError, "learning"),
        (lambda: proj.reward(1.0), ValueError, "reward"),
        (lambda: static.reward(1.0), ValueError, "reward"),
        (lambda: proj.reward_level(), ValueError, "reward_level"),
        (lambda: static.traces(), ValueError, "traces"),
    ]
    for call, exc, name in calls:
        with pytest.raises(exc, match=name):
            call()
        assert np.array_equal(proj.weights, w_before)
        assert proj.learning
    net.run(7.5)
    ref_w, ref_t = _good_result(*_bad_net())
    assert np.array_equal(proj.weights, ref_w)
    assert np.array_equal(net.spikes.times, ref_t)


def test_bad_reward_calls():
    net, pop, src = _bad_net()
    proj = net.connect(src, pop, ev.all_to_all(), weight=0.5, delay=1.0, plasticity=RewardSTDP())
    for amount, exc in ((math.nan, ValueError), (math.inf, ValueError), ("1", TypeError), (None, TypeError),
                        (True, TypeError)):
        with pytest.raises(exc, match="amount"):
            proj.reward(amount)
    assert proj.reward_level() == 0.0
    net.run(5.0)
    with pytest.raises(ValueError, match="amount"):
        proj.reward(math.nan)
    assert proj.reward_level() == 0.0
    proj.reward(2.0)
    assert proj.reward_level() == 2.0 * math.exp(-0.0)
    net.run(5.0)
    assert math.isclose(proj.reward_level(), 2.0 * math.exp(-5.0 / 200.0), rel_tol=1e-15)
