"""Issue 17 (plastic network): potentiation deferred to the synapses' next presynaptic
arrival (``plasticity.post_update`` rings, ``sync_depress_row``, ``drain``, ``flush``).

The scenario makes every path of the deferral happen: postsynaptic trains much longer
than a ring (``plasticity.RING`` entries), so rings fill and are drained through the
transpose index while some synapses have arrivals in between and others none; arrivals
that coincide with postsynaptic spikes; runs that end with full and partly full rings.
Weights, traces and counts must equal the slow reference of tests/stdp_reference.py,
and split runs must be bitwise one run.
"""
import os
import sys

import numpy as np
import pytest

import eventsnn as ev
import eventsnn.plasticity as PLM

sys.path.insert(0, os.path.dirname(__file__))
from test_plasticity import (RULES, Scenario, _w0, assert_weights_match, run_engine,  # noqa: E402
                             run_reference, total)

_POST0 = [1.0 + 1.25 * k for k in range(3 * PLM.RING + 5)]          # 29 spikes in 1..36 ms
# Presynaptic arrival = emission + 1.5 ms.
# * pre 0: one arrival inside post 0's long train (12.5 ms, after 9 of its spikes: a ring
#   filled and was drained before it) and one at a spike of post 0 (21.0 = 1 + 1.25 * 16);
# * pre 1: silent until the end; its synapses are served by drains and the final flush;
# * pre 2: arrivals every 2.5 ms, so each finds one or two waiting potentiations;
# * pre 3: one arrival after post 0's train, before post 1's second burst.
LONG = Scenario(
    n_pre=4, n_post=2,
    pre=(0, 0, 1, 1, 2, 2, 3),
    post=(0, 1, 0, 1, 0, 1, 0),
    pre_times={0: [11.0, 19.5], 1: [60.0], 2: [1.0 + 2.5 * k for k in range(14)], 3: [40.0]},
    post_times={0: _POST0 + [45.0, 50.0],
                1: [2.0 + 0.5 * k for k in range(2 * PLM.RING + 3)] + [41.5 + 0.75 * k for k in range(PLM.RING + 1)]},
    delay=1.5, t_end=70.0)


def test_scenario_exercises_the_rings():
    """The trains do fill rings: post 0 fires more than 2 RING times before pre 1's first
    arrival, and an arrival of pre 0 coincides with a spike of post 0."""
    assert len([t for t in LONG.post_times[0] if t < 61.5]) > 3 * PLM.RING
    assert 19.5 + 1.5 in LONG.post_times[0]


@pytest.mark.parametrize("name,rule,hits", RULES, ids=[r[0] for r in RULES])
def test_long_trains_equal_reference(name, rule, hits):
    """Every rule (all interactions, weight dependences, bounds, triplet, Vogels, reward)
    on trains that overflow the rings: weights within 1e-12 of the reference, counts
    equal."""
    w0 = _w0(rule, len(LONG.pre))
    er = run_engine(rule, LONG, w0)
    rr = run_reference(rule, LONG, er, w0)
    assert_weights_match(er.proj.weights, rr.weights, rule)
    c = er.results[0].counts
    assert c.weight_updates == rr.weight_updates
    assert c.trace_updates == rr.trace_updates


# run ends inside post 0's train (partly full ring), right after a drain, at a
# simultaneous arrival and spike, and between the bursts of post 1
SPLITS = [(5.0, []), (12.25, []), (21.0, []), (21.0, []), (33.5, []), (44.0, []), (70.0, [])]


@pytest.mark.parametrize("name,rule,hits", RULES[::2], ids=[r[0] for r in RULES[::2]])
def test_long_trains_split_runs_are_bitwise_one_run(name, rule, hits):
    """Rings are emptied at the end of every run: split runs give bitwise the weights,
    traces and summed counts of one run, and the weights read between runs equal the
    reference at that time."""
    w0 = _w0(rule, len(LONG.pre))
    one = run_engine(rule, LONG, w0)
    split = run_engine(rule, LONG, w0, segments=SPLITS, read_between=True)
    assert np.array_equal(one.proj.weights, split.proj.weights)
    for side in ("pre", "post"):
        assert np.array_equal(one.proj.traces()[side], split.proj.traces()[side])
    assert one.results[0].counts == sum((r.counts for r in split.results[1:]), split.results[0].counts)
    assert total(split.results, "weight_updates") == one.results[0].counts.weight_updates


def test_weights_read_mid_train_equal_reference():
    """A run that stops while post 0's ring is partly full: the weights read then already
    hold every potentiation (the run's end applied them), as the reference at that time."""
    rule = RULES[0][1]
    w0 = _w0(rule, len(LONG.pre))
    er = run_engine(rule, LONG, w0, segments=[(12.25, [])])
    rr = run_reference(rule, LONG, er, w0)
    assert_weights_match(er.proj.weights, rr.weights, rule)
    assert er.results[0].counts.weight_updates == rr.weight_updates
    TR = er.net._state.plastic
    assert (TR.post_tr[:, PLM.T_RING] == 0.0).all()


def test_save_load_between_runs_continues_bitwise(tmp_path):
    """A network saved after a run that ended inside a long postsynaptic train (rings
    were emptied then) continues bitwise after loading."""
    rule = RULES[0][1]
    w0 = _w0(rule, len(LONG.pre))
    one = run_engine(rule, LONG, w0)
    part = run_engine(rule, LONG, w0, segments=[(12.25, [])])
    path = tmp_path / "net.npz"
    ev.save(part.net, path)
    net = ev.load(path)
    net.run(LONG.t_end - net.t)
    proj = net.projections[-1]
    assert np.array_equal(proj.weights, one.proj.weights)


def test_a_state_with_waiting_potentiations_is_refused(tmp_path):
    """Rings are empty between runs; a file whose post traces claim otherwise is refused
    before anything changes."""
    rule = RULES[0][1]
    w0 = _w0(rule, len(LONG.pre))
    part = run_engine(rule, LONG, w0, segments=[(12.25, [])])
    part.net._state.plastic.post_tr[0, PLM.T_RING] = 3.0
    path = tmp_path / "bad.npz"
    ev.save(part.net, path)
    with pytest.raises(ValueError, match="deferred potentiations"):
        ev.load(path)


# --------------------------------------------------------- the end-of-run flush, two ways
def _stdp_network(rule, n_pre, n_post, p_conn, rate_post, seed):
    """Poisson inputs onto relays that repeat them (so that each presynaptic train is
    known) and a plastic projection from the relays to integrators kept firing by a
    Poisson drive of their own: many rings end a run owed, in an irregular pattern."""
    net = ev.Network(seed=seed)
    relay = ev.LIF(tau_m=10.0, v_rest=0.0, v_th=1.0, v_reset=0.0, t_ref=0.5)
    post_m = ev.LIF(tau_m=10.0, v_rest=0.0, v_th=1.0, v_reset=0.0, t_ref=2.0)
    src = net.poisson_source(n_pre, 20.0, name="src")
    pre = net.population(n_pre, relay, name="pre")
    post = net.population(n_post, post_m, name="post")
    drive = net.poisson_source(n_post, rate_post, name="drive")
    net.connect(src, pre, ev.one_to_one(), weight=2.0, delay=0.5)
    net.connect(drive, post, ev.one_to_one(), weight=2.0, delay=0.5)
    w = 0.05 if rule.w_min <= 0.05 <= rule.w_max else 0.5 * (rule.w_min + rule.w_max)
    proj = net.connect(pre, post, ev.fixed_probability(p_conn), weight=w, delay=1.0,
                       plasticity=rule)
    return net, proj


def _run_with_flush(monkeypatch, sweep, rule, n_post, rate_post, segments):
    orig = PLM.flush
    monkeypatch.setattr(PLM, "flush", lambda *a: orig(*a, sweep))
    net, proj = _stdp_network(rule, 40, n_post, 0.3, rate_post, seed=3)
    counts = [net.run(d).counts for d in segments]
    monkeypatch.setattr(PLM, "flush", orig)
    return proj.weights.copy(), proj.traces(), counts, net.spikes.times.copy()


FLUSH_RULES = [r for r in RULES if not r[1].is_reward][::2]


@pytest.mark.parametrize("name,rule,hits", FLUSH_RULES, ids=[r[0] for r in FLUSH_RULES])
@pytest.mark.parametrize("rate_post", [40.0, 300.0])
def test_flush_in_row_order_equals_flush_through_the_transpose(monkeypatch, name, rule, hits,
                                                               rate_post):
    """The end-of-run flush walks a projection in row order (``_sweep``) or each owed
    neuron's incoming synapses (``drain``), chosen by how much is owed: both give
    bitwise the same weights, traces, counts and later spikes, over split runs; and the
    automatic choice takes each way in one of the two regimes (few or many owed rings)."""
    segments = [7.0, 13.5, 30.0]
    a = _run_with_flush(monkeypatch, 0, rule, 60, rate_post, segments)
    b = _run_with_flush(monkeypatch, 1, rule, 60, rate_post, segments)
    c = _run_with_flush(monkeypatch, -1, rule, 60, rate_post, segments)
    for x in (b, c):
        assert np.array_equal(a[0], x[0])
        for side in ("pre", "post"):
            assert np.array_equal(a[1][side], x[1][side])
        assert a[2] == x[2]
        assert np.array_equal(a[3], x[3])
    assert sum(cn.weight_updates for cn in a[2]) > 0


def test_flush_regimes_take_both_ways(monkeypatch):
    """The automatic choice: a projection with few owed rings drains them, one with many
    is swept (whichever touches fewer synapses; counted as the same work)."""
    rule = RULES[0][1]
    # the owed fraction decides; checked on the rings just before the last run's flush
    owed = {}
    for rate_post in (2.0, 300.0):
        net, proj = _stdp_network(rule, 40, 400, 0.3, rate_post, seed=5)
        orig = PLM.flush
        captured = {}

        def spy(PI, TR, *rest):
            k_owed = 0
            for j in range(int(PI.post_off[1] - PI.post_off[0])):
                if TR.post_tr[PI.post_off[0] + j, PLM.T_RING] != 0.0:
                    k_owed += int(PI.tptr[PI.tptr_off[0] + j + 1] - PI.tptr[PI.tptr_off[0] + j])
            captured["owed"] = k_owed
            captured["nnz"] = int(PI.tsyn_off[1] - PI.tsyn_off[0])
            return orig(PI, TR, *rest)

        monkeypatch.setattr(PLM, "flush", spy)
        net.run(20.0)
        monkeypatch.setattr(PLM, "flush", orig)
        owed[rate_post] = captured
    assert 16 * owed[2.0]["owed"] < owed[2.0]["nnz"]          # drained
    assert 16 * owed[300.0]["owed"] >= owed[300.0]["nnz"]     # swept
