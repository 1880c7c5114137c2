"""Operation-count reports (eventsnn.counting): hand arithmetic, an independent dense
re-implementation of the NeuroBench definitions, exact Poisson regeneration, save/load."""
import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eventsnn as ev
from eventsnn import counting as C
from eventsnn.engine.clock import ClockEngine

DELTA = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=0.0, t_ref=2.0)


def _hand_net():
    """Source spikes at 1.0 and 1.5 ms -> 2 delta neurons (25 mV, delay 1 ms; both fire at
    2.0 ms, the second input is discarded) -> 1 neuron (5 mV each, delay 1 ms, no spike)."""
    net = ev.Network(seed=0)
    a = net.population(2, DELTA, name="a")
    b = net.population(1, DELTA, name="b")
    src = net.spike_source([1.0, 1.5], [0, 0], name="in")
    net.connect(src, a, ev.all_to_all(), weight=25.0, delay=1.0)
    net.connect(a, b, ev.all_to_all(), weight=5.0, delay=1.0)
    return net


TAB = C.EnergyTable(add_pj=1.0, mul_pj=10.0, exp_pj=100.0)


def test_report_by_hand():
    net = _hand_net()
    res = net.run(10.0)
    c = res.counts
    assert (c.spikes, c.syn_events, c.source_syn_events, c.drive_events) == (2, 2, 4, 0)
    rep = net.report(res, dt=0.1, energy=TAB).as_dict()
    # event-driven: 6 accumulates at 1 pJ; delta frame advances cost one multiply
    ev_ops = rep["event"]["ops"]
    assert ev_ops["synaptic_accumulates"]["count"] == 6
    assert ev_ops["synaptic_accumulates"]["energy_pj"] == 6.0
    assert ev_ops["state_advances"] == {"count": c.state_advances, "cost_exp_mul_add": [0, 1, 0],
                                        "energy_pj": 10.0 * c.state_advances}
    assert ev_ops["threshold_tests"]["energy_pj"] == 1.0 * c.threshold_tests
    assert "drive_frame_factors" not in ev_ops and "plasticity_trace_updates" not in ev_ops
    assert rep["event"]["energy_pj"]["total"] == 6.0 + 10.0 * c.state_advances + c.threshold_tests
    # clock formula: 3 neurons x 100 steps; delta update = 1 mul + 2 add = 12 pJ
    cl = rep["clock"]
    assert cl["source"] == "formula" and cl["steps"] == 100
    assert cl["ops"]["neuron_updates"]["count"] == 300
    assert cl["ops"]["neuron_updates"]["energy_pj"] == 300 * 12.0
    assert cl["ops"]["threshold_tests"]["count"] == 300
    assert cl["ops"]["synaptic_accumulates"]["count"] == 6
    assert cl["energy_pj"]["total"] == 6.0 + 3600.0 + 300.0
    # dense ANN: 1x2 + 2x1 weights; a MAC is 11 pJ
    assert rep["ann"]["macs_per_inference"] == 4 and rep["ann"]["energy_pj"]["total"] == 44.0
    # NeuroBench: 100 bins; 2 source spikes x 2 non-zero weights + 2 neuron spikes x 1
    nb = rep["neurobench"]
    assert nb["bins"] == 100
    assert (nb["Effective_ACs"], nb["Effective_MACs"], nb["Dense"]) == (6, 0, 400)
    assert nb["activation_sparsity"] == 1 - 2 / 300
    assert nb["connection_sparsity"] == 0.0
    assert nb["SynOps_fanout"] == nb["SynOps_dense_fanout"] == 6
    r = rep["ratios"]
    assert r["clock_over_event_ops"] == (6 + 300 + 300) / (6 + c.state_advances + c.threshold_tests)
    json.dumps(rep)                                    # plain JSON


def test_zero_weights_multapses_and_double_spikes():
    """Effective ops skip zero weights and merge multapses into one dense entry; a bin in which
    a source spikes twice makes the layer's input non-binary, so its operations are MACs;
    SynOps_fanout (Sinabs/SpikingJelly) counts every stored synapse."""
    net = ev.Network(seed=0)
    a = net.population(4, DELTA, name="a")
    src = net.spike_source([1.01, 1.05, 3.0], [0, 0, 0], name="in")
    # row 0: target 0 twice (3 + -3 = 0), target 1 (w = 0), target 2 twice (1 + 1), target 3 (2)
    pre = np.zeros(6, np.int64)
    post = np.array([0, 0, 1, 2, 2, 3])
    w = np.array([3.0, -3.0, 0.0, 1.0, 1.0, 2.0])
    net.connect(src, a, ev.from_lists(pre, post, w, None, n_pre=1, n_post=4), delay=0.5)
    res = net.run(5.0)
    assert len(res.spikes) == 0
    nb = net.report(res, dt=0.1)["neurobench"]
    # non-zero dense entries of the row: targets 2 and 3
    assert nb["Effective_MACs"] == 2                   # bin (1.0, 1.1]: two spikes, counted once
    assert nb["Effective_ACs"] == 2                    # the spike at 3.0 ms
    assert nb["nonbinary_group_bins"] == 1
    assert nb["Dense"] == 4 * 50
    assert nb["connection_sparsity"] == 0.5
    assert nb["SynOps_fanout"] == 3 * 6 and nb["SynOps_dense_fanout"] == 3 * 4


def _mixed_net(seed):
    rng = np.random.default_rng(seed)
    net = ev.Network(seed=seed)
    m = ev.LIF(tau_m=10.0, tau_syn_exc=2.0, tau_syn_inh=4.0, v_th=15.0, v_reset=0.0, t_ref=1.0)
    a = net.population(12, m, name="a")
    b = net.population(8, DELTA, name="b")
    ps = net.poisson_source(5, 150.0, name="poisson")
    t_in = np.sort(rng.uniform(0, 60, 30))
    src = net.spike_source(t_in, rng.integers(0, 3, 30), n=3, name="train")
    net.connect(ps, a, ev.fixed_outdegree(4), weight=30.0, delay=0.4)
    net.connect(src, b, ev.fixed_probability(0.5), weight=lambda r, n: r.choice([0.0, 25.0], n), delay=0.2)
    net.connect(a, b, ev.fixed_indegree(3), weight=9.0, delay=1.3)
    net.connect(b, a, ev.fixed_probability(0.3), weight=-12.0, delay=lambda r, n: r.uniform(0.5, 2.0, n))
    net.poisson_drive(b, 2000.0, 0.5)
    return net


def _neurobench_dense(net, spikes, src_t, src_n, dt, T):
    """NeuroBench's definitions on dense matrices, step by step (slow and obvious)."""
    N = net.n_neurons
    nbins = int(round(T / dt))
    counts = np.zeros((nbins, N + sum(s.size for s in net._sources)), np.int64)
    nodes = np.concatenate([spikes.ids, src_n])
    times = np.concatenate([spikes.times, src_t])
    for n, t in zip(nodes, times):
        counts[min(max(int(math.ceil(t / dt - 1e-9)) - 1, 0), nbins - 1), n] += 1
    off = {id(s): N + sum(x.size for x in net._sources[:k]) for k, s in enumerate(net._sources)}
    ac = mac = dense = 0
    for pr in net.projections:
        W = pr.to_scipy().toarray() != 0           # toarray sums duplicates
        o = pr.pre.offset if isinstance(pr.pre, ev.Population) else off[id(pr.pre)]
        x = counts[:, o:o + pr.pre.size]
        ops = ((x != 0).astype(np.int64) @ W.astype(np.int64)).sum(axis=1)
        binary = (x <= 1).all(axis=1)
        ac += int(ops[binary].sum())
        mac += int(ops[~binary].sum())
        dense += W.size * nbins
    active = int((counts[:, :N] > 0).sum())
    return ac, mac, dense, 1 - active / (N * nbins)


@pytest.mark.parametrize("seed,dt", [(1, 0.1), (2, 0.5), (3, 0.025)])
def test_neurobench_matches_dense_reimplementation(seed, dt):
    T = 60.0
    net = _mixed_net(seed)
    res = net.run(T)
    rec = C.record(net, res)
    src_t, src_n = C.source_spikes(net, 0.0, T)
    # the regenerated Poisson and spike-train spikes are the engine's: their deliveries up to
    # T (spike time + delay <= T, times the out-degree of the row) are its source events
    N = net.n_neurons
    off = {id(s): N + sum(x.size for x in net._sources[:k]) for k, s in enumerate(net._sources)}
    src_syn = 0
    for pr in net.projections:
        if not isinstance(pr.pre, ev.Population):
            deg = np.diff(pr.to_scipy().indptr)
            m = (src_n >= off[id(pr.pre)]) & (src_n < off[id(pr.pre)] + pr.pre.size) & (src_t + pr.delay <= T)
            src_syn += int(deg[src_n[m] - off[id(pr.pre)]].sum())
    assert src_syn == res.counts.source_syn_events > 0
    nb = C.neurobench_metrics(rec, dt)
    ac, mac, dense, act = _neurobench_dense(net, res.spikes, src_t, src_n, dt, T)
    assert (nb["Effective_ACs"], nb["Effective_MACs"], nb["Dense"]) == (ac, mac, dense)
    assert nb["activation_sparsity"] == pytest.approx(act, abs=1e-15)
    assert nb["Effective_MACs"] > 0 if dt >= 0.5 else True


def test_mixed_representations_are_flagged():
    net = _mixed_net(1)                  # exp-synapse frame and delta frame populations
    rep = net.report(net.run(20.0)).as_dict()
    assert rep["event"]["ops"]["state_advances"]["cost_exp_mul_add"] == [0, 3, 1]
    assert any("mix" in n for n in rep["notes"])
    net = ev.Network(seed=0)             # tau_syn close to tau_m: general closed form
    a = net.population(3, ev.LIF(tau_m=10.0, tau_syn_exc=9.0, tau_syn_inh=9.0))
    net.connect(net.spike_source([1.0], [0]), a, ev.all_to_all(), weight=5.0, delay=1.0)
    rep = net.report(net.run(5.0)).as_dict()
    assert rep["network"]["populations"][0]["representation"] == "general"
    assert rep["event"]["ops"]["state_advances"]["cost_exp_mul_add"] == [10, 25, 10]
    assert any("upper bound" in n for n in rep["notes"])


def test_measured_clock_column_and_split_history():
    net = _mixed_net(4)
    net.run(12.5)
    net.run(17.5)
    whole = _mixed_net(4)
    r = whole.run(30.0)
    assert net.counts == r.counts
    rep_hist = net.report(None, clock=0.125).as_dict()
    rep_one = whole.report(r, clock=0.125).as_dict()
    assert rep_hist == rep_one
    eng = ClockEngine(_mixed_net(4), 0.125)
    cc = eng.run(30.0).counts
    assert rep_one["clock"]["source"] == "measured" and rep_one["clock"]["counts"] == cc.as_dict()
    assert rep_one["clock"]["ops"]["neuron_updates"]["count"] == 20 * 240
    # a clock Result may be passed instead of a step
    rep_res = whole.report(r, clock=ClockEngine(_mixed_net(4), 0.125).run(30.0)).as_dict()
    assert rep_res == rep_one


def test_report_of_a_later_run_uses_its_interval():
    net = _mixed_net(5)
    net.run(10.0)
    r2 = net.run(20.0)
    rec = C.record(net, r2, clock=0.5)
    eng = ClockEngine(_mixed_net(5), 0.5)
    eng.run(10.0)
    assert rec.clock["counts"] == eng.run(20.0).counts
    assert (rec.t_start, rec.t_stop) == (10.0, 30.0)
    assert np.all((rec.spike_times > 10.0) & (rec.spike_times <= 30.0))


def test_plasticity_rows_appear_when_nonzero():
    from eventsnn.plasticity import STDP
    net = ev.Network(seed=3)
    a = net.population(10, DELTA, name="a")
    ps = net.poisson_source(10, 200.0)
    net.connect(ps, a, ev.one_to_one(), weight=25.0, delay=0.5)
    net.connect(a, a, ev.fixed_indegree(3), weight=0.5, delay=1.0, plasticity=STDP(w_max=2.0))
    res = net.run(50.0)
    assert res.counts.trace_updates > 0 and res.counts.weight_updates > 0
    ops = net.report(res, energy=TAB)["event"]["ops"]
    assert ops["plasticity_trace_updates"]["energy_pj"] == 111.0 * res.counts.trace_updates
    assert ops["plasticity_weight_updates"]["energy_pj"] == 22.0 * res.counts.weight_updates


def test_memory_row_is_optional():
    net = _hand_net()
    res = net.run(10.0)
    c = res.counts
    off = net.report(res).as_dict()
    assert "memory" not in off["event"]["energy_pj"]
    on = net.report(res, energy=C.EnergyTable(mem_pj=10.0)).as_dict()
    words = 4 * 6 + 6 * c.state_advances + 6 * (c.queue_pushes + c.queue_pops) + c.threshold_tests
    assert on["event"]["energy_pj"]["memory"] == 10.0 * words
    assert "memory" in str(net.report(res, energy=C.EnergyTable(mem_pj=10.0)))


def test_text_report_mentions_every_column():
    net = _hand_net()
    txt = str(net.report(net.run(10.0)))
    for needle in ("event-driven", "clock-driven (dt = 0.1 ms) [formula]", "dense ANN", "Effective_ACs",
                   "Horowitz 2014", "connection_sparsity"):
        assert needle in txt


def test_save_and_load_round_trip(tmp_path):
    net = _mixed_net(6)
    res = net.run(25.0)
    rec = C.record(net, res, clock=0.25)
    p = tmp_path / "run.npz"
    C.save_record(rec, p)
    back = C.load_record(p)
    assert C.report(back, dt=0.2).as_dict() == C.report(rec, dt=0.2).as_dict()


# ============================================================================ bad input


def test_bad_inputs():
    net = _hand_net()
    res = net.run(5.0)
    rec = C.record(net, res)
    with pytest.raises(ValueError, match="dt=0.0"):
        C.report(rec, dt=0.0)
    with pytest.raises(ValueError, match="inferences=0"):
        C.report(rec, inferences=0)
    with pytest.raises(TypeError, match="energy must be an EnergyTable"):
        C.report(rec, energy={"add_pj": 1.0})
    with pytest.raises(TypeError, match="rec must be a RunRecord"):
        C.report(res)
    with pytest.raises(ValueError, match="add_pj=-1.0"):
        C.EnergyTable(add_pj=-1.0)
    with pytest.raises(TypeError, match="result must be an eventsnn.Result"):
        C.record(net, "run")
    with pytest.raises(TypeError, match="net must be an eventsnn.Network"):
        C.record("net", res)
    with pytest.raises(ValueError, match="clock=-0.1"):
        C.record(net, res, clock=-0.1)
    other = ClockEngine(_hand_net(), 0.1).run(2.0)
    with pytest.raises(ValueError, match="same interval"):
        C.record(net, res, clock=other)
    with pytest.raises(ValueError, match="no source spikes"):
        C.record(net, other)


def test_load_rejects_other_files(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(ValueError, match="not an eventsnn run record"):
        C.load_record(p)
    q = tmp_path / "y.npz"
    q.write_text("hello")
    with pytest.raises(ValueError, match="not an eventsnn run record"):
        C.load_record(q)
    with pytest.raises(ValueError, match="not an eventsnn run record"):
        C.load_record(tmp_path / "missing.npz")


def test_energy_table_defaults_are_the_cited_45nm_figures():
    t = C.EnergyTable()
    assert (t.add_pj, t.mul_pj, t.ac_pj, t.mac_pj) == (0.9, 3.7, 0.9, pytest.approx(4.6))
    assert t.mem_pj is None
    assert dataclasses.replace(t, mul_pj=1.0).mac_pj == pytest.approx(1.9)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), dt=st.sampled_from([0.05, 0.1, 0.25, 1.0, 3.0]))
def test_neurobench_property_random_networks(seed, dt):
    """Property: for random networks and bin widths the binned counts equal the dense
    re-implementation, and Effective ops never exceed the Sinabs-style fan-out count."""
    T = 30.0
    net = _mixed_net(seed)
    res = net.run(T)
    nb = C.neurobench_metrics(C.record(net, res), dt)
    src_t, src_n = C.source_spikes(net, 0.0, T)
    ac, mac, dense, act = _neurobench_dense(net, res.spikes, src_t, src_n, dt, T)
    assert (nb["Effective_ACs"], nb["Effective_MACs"], nb["Dense"]) == (ac, mac, dense)
    assert nb["Effective_ACs"] + nb["Effective_MACs"] <= nb["SynOps_fanout"] <= nb["SynOps_dense_fanout"]


def test_neurobench_bins_hold_grid_spikes_in_their_step():
    """A bin j is [j dt, (j+1) dt): spikes a clock-driven input puts at k dt (k = 0, 1,
    ...) each fall in their own step, so a binary input counts as ACs, never MACs."""
    import eventsnn as ev
    net = ev.Network(seed=1)
    src = net.spike_source(0.1 * np.arange(10), np.zeros(10, np.int64), n=1, name="in")
    pop = net.population(3, ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=1e3, t_ref=0.0),
                         name="p", v_init=0.0)
    net.connect(src, pop, ev.all_to_all(), weight=1.0, delay=0.0)
    rep = net.report(net.run(1.0), dt=0.1).as_dict()
    nb = rep["neurobench"]
    assert nb["bins"] == 10 and nb["Effective_MACs"] == 0 and nb["Effective_ACs"] == 30
