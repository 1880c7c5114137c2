"""Issue 22: recorders (spikes of chosen neurons and windows, state probes on grids,
binned population rates, weight snapshots), continuing across split runs and
save/load; progress bars; the compile notice."""
import math

import numpy as np
import pytest

import eventsnn as ev
from eventsnn.plasticity import STDP


def build(seed=3, plastic=False, adapt=False):
    net = ev.Network(seed=seed)
    exp = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
                 t_ref=2.0, theta_plus=0.5 if adapt else 0.0)
    delta = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
                   t_ref=2.0)
    a = net.population(120, exp, name="a", v_init=(0.0, 20.0))
    b = net.population(80, delta, name="b", v_init=(0.0, 20.0))
    src = net.poisson_source(50, 20.0, name="src")
    net.connect(src, a, ev.fixed_indegree(10), weight=2.0, delay=0.5,
                plasticity=STDP(a_plus=0.05, a_minus=0.05, w_min=0.0, w_max=4.0) if plastic else None)
    net.connect(a, b, ev.fixed_indegree(20), weight=0.8, delay=1.5)
    net.connect(b, a, ev.fixed_indegree(10), weight=-0.6, delay=2.0)
    net.poisson_drive(b, rate=4000.0, weight=0.4)
    net.poisson_drive(a, rate=1500.0, weight=3.0)
    return net, a, b


def same_spikes(x, y):
    assert np.array_equal(x.times, y.times) and np.array_equal(x.ids, y.ids)


@pytest.fixture(scope="module")
def reference():
    net, a, b = build()
    res = net.run(150.0)
    assert len(res.spikes_of("a")) > 50 and len(res.spikes_of("b")) > 50
    return res


# ------------------------------------------------------------------------- spikes
def test_spike_recorders_keep_exactly_their_neurons_and_windows(reference):
    net, a, b = build()
    ra = net.record_spikes(a)
    rb = net.record_spikes(b.ids[::3], start=40.0, stop=90.0)
    res = net.run(150.0)
    s = reference.spikes
    keep = (s.ids < 120) | ((s.ids >= 120) & ((s.ids - 120) % 3 == 0) & (s.times >= 40.0) & (s.times <= 90.0))
    assert np.array_equal(res.spikes.times, s.times[keep]) and np.array_equal(res.spikes.ids, s.ids[keep])
    # recording changes no work: the counts equal the run that records everything
    assert res.counts == reference.counts
    same_spikes(ra.spikes, ev.Spikes(s.times[s.ids < 120], s.ids[s.ids < 120]))
    assert rb.spikes.ids.min() >= 120 and rb.spikes.times.min() >= 40.0 and rb.spikes.times.max() <= 90.0


def test_record_no_spikes(reference):
    net, a, b = build()
    assert net.record_spikes(None) is None
    res = net.run(150.0)
    assert len(res.spikes) == 0 and len(net.spikes) == 0
    assert res.counts == reference.counts
    assert not net.records_every_spike
    with pytest.raises(ValueError, match="record_spikes"):
        net.report(res)


def test_record_all_is_every_spike(reference):
    net, a, b = build()
    net.record_spikes(None)
    net.record_spikes("all")
    res = net.run(150.0)
    same_spikes(res.spikes, reference.spikes)
    assert net.records_every_spike


def test_plastic_targets_learn_when_not_recorded():
    """The postsynaptic rules read the spike record; spikes kept there only for them are
    dropped afterwards, and the weights are those of a run that records everything."""
    full, a0, _ = build(plastic=True)
    r0 = full.run(200.0)
    part, a1, b1 = build(plastic=True)
    part.record_spikes(b1)
    r1 = part.run(100.0)
    r1b = part.run(100.0)
    w0 = full.projections[0].weights
    w1 = part.projections[0].weights
    assert np.unique(w0).size > 2          # they learned
    assert np.array_equal(w0, w1)
    assert r1.counts.weight_updates + r1b.counts.weight_updates == r0.counts.weight_updates > 0
    got = ev.Spikes(np.concatenate([r1.spikes.times, r1b.spikes.times]),
                    np.concatenate([r1.spikes.ids, r1b.spikes.ids]))
    m = r0.spikes.ids >= 120
    same_spikes(got, ev.Spikes(r0.spikes.times[m], r0.spikes.ids[m]))


# ------------------------------------------------------------------------- probes
def test_grid_probe_equals_given_times_and_continues_over_splits_and_save(tmp_path):
    ids = np.array([0, 5, 119, 120, 150])
    grid = 0.25 + np.arange(0, 600) * 0.25
    grid = grid[grid <= 140.0]
    one, _, _ = build()
    p1 = one.record_state(ids, dt=0.25, start=0.25, stop=140.0)
    r = one.run(150.0)
    assert np.array_equal(r.states.times, grid)
    assert r.probes["probe0"] is r.states
    two, _, _ = build()
    two.record_state(ids, grid)
    r2 = two.run(150.0)
    for v in ("v", "i_exc", "i_inh"):
        assert np.array_equal(getattr(r.states, v), getattr(r2.states, v)), v
    assert not np.isnan(r.states.v).any()
    # split at a sample time and in between, with a save/load in the middle
    three, _, _ = build()
    p3 = three.record_state(ids, dt=0.25, start=0.25, stop=140.0)
    three.run(50.0)
    three.run(33.3)
    ev.save(three, tmp_path / "n.npz")
    back = ev.load(tmp_path / "n.npz")
    back.run(150.0 - 83.3)
    got = back._probes[0].samples
    assert np.array_equal(got.times, p1.samples.times)
    for v in ("v", "i_exc", "i_inh"):
        assert np.array_equal(getattr(got, v), getattr(p1.samples, v)), v
    assert p3.samples.times.shape[0] < got.times.shape[0]      # the copy went on, the original did not


def test_probe_variables_and_theta_counts_spikes():
    net, a, b = build(adapt=True)
    pv = net.record_state(a, dt=1.0, variables=("theta", "v"), name="th")
    pi = net.record_state([3, 4], dt=2.5, variables="i_inh", name="inh")
    r = net.run(120.0)
    assert set(r.probes) == {"th", "inh"}
    th = r.probes["th"]
    assert th.i_exc is None and th.i_inh is None and th.v.shape == th.theta.shape == (121, 120)
    assert r.probes["inh"].v is None and r.probes["inh"].i_inh.shape == (49, 2)
    assert pv.bytes_per_sample == 8 * 2 * 120 and pi.bytes_per_sample == 16
    # a left limit: the offset counts the spikes strictly before each sample time
    s = r.spikes_of("a")
    for j in (0, 7, 63, 119):
        n_before = np.searchsorted(s.times[s.ids == j], th.times, side="left")
        assert np.array_equal(th.theta[:, j], 0.5 * n_before)     # (sums of 0.5 are exact)
    with pytest.raises(ValueError, match="variable"):
        net2, _, _ = build()
        net2.record_state([0], dt=1.0, variables=("v", "w"))


def test_grid_until_stop_and_start_later():
    net, a, b = build()
    p = net.record_state([1], dt=0.7, start=10.0, stop=12.1)
    r = net.run(30.0)
    assert np.array_equal(r.states.times, 10.0 + np.arange(4) * 0.7)
    assert len(net.run(10.0).states.times) == 0
    assert np.array_equal(p.samples.times, r.states.times)


# -------------------------------------------------------------------------- rates
def test_rates_in_bins_equal_the_histogram_across_splits(reference):
    net, a, b = build()
    net.record_spikes(None)
    ra = net.record_rate(a, bin=5.0)
    rb = net.record_rate(b, bin=0.3)
    parts = [net.run(d) for d in (12.5, 50.0, 87.5)]
    for rec, name, n, width in ((ra, "a", 120, 5.0), (rb, "b", 80, 0.3)):
        s = reference.spikes_of(name)
        k = np.ceil(s.times / width).astype(np.int64) - 1
        d = rec.data
        k0 = int(round(d.times[0] / width))
        hist = np.bincount(k - k0, minlength=len(d.counts))
        assert np.array_equal(d.counts, hist), name
        assert d.counts.sum() == len(s)
        assert np.allclose(d.rate, d.counts / n / (width / 1000.0))
        # every run's bins add up to the recorder's
        total = np.zeros_like(d.counts)
        for r in parts:
            q = r.rates_binned[name]
            j = np.round(q.times / width).astype(np.int64) - k0
            np.add.at(total, j, q.counts)
        assert np.array_equal(total, d.counts)


# ------------------------------------------------------------------------ weights
def test_weight_snapshots_equal_split_runs_and_change_nothing():
    plain, _, _ = build(plastic=True)
    r0 = plain.run(100.0)
    net, _, _ = build(plastic=True)
    rec = net.projections[0].record_weights([0.0, 10.0, 37.25, 100.0, 250.0], name="w")
    r = net.run(100.0)
    same_spikes(r.spikes, r0.spikes)
    assert r.counts.spikes == r0.counts.spikes and r.counts.weight_updates == r0.counts.weight_updates
    assert np.array_equal(rec.taken, [0.0, 10.0, 37.25, 100.0])
    t, w = r.weights["w"]
    assert np.array_equal(t, rec.taken) and np.array_equal(w, rec.values)
    step, _, _ = build(plastic=True)
    for k, (t0, t1) in enumerate(zip([0.0, 0.0, 10.0, 37.25], [0.0, 10.0, 37.25, 100.0])):
        step.run(t1 - t0)
        assert np.array_equal(rec.values[k], step.projections[0].weights), t1
    assert not np.array_equal(rec.values[0], rec.values[-1])
    with pytest.raises(ValueError, match="current time"):
        net.projections[0].record_weights([50.0])


# ---------------------------------------------------------------------- progress
def test_progress_slices_change_no_result(capsys, reference):
    net, a, b = build()
    net.record_state([0, 130], dt=1.0)
    r = net.run(150.0, progress=True)
    same_spikes(r.spikes, reference.spikes)
    assert r.states.times.shape == (151,)
    err = capsys.readouterr().err
    assert "100.0%" in err


def test_compile_time_is_reported():
    assert isinstance(ev.compile_time(), float) and ev.compile_time() >= 0.0


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, exc, words", [
    (lambda n, a: n.record_spikes("some"), ValueError, ["target", "'all'"]),
    (lambda n, a: n.record_spikes([0, 999]), ValueError, ["target", "999"]),
    (lambda n, a: n.record_spikes([0.5]), TypeError, ["target"]),
    (lambda n, a: n.record_spikes(a, start=5.0, stop=1.0), ValueError, ["start", "stop"]),
    (lambda n, a: n.record_spikes(a, stop=math.nan), ValueError, ["stop"]),
    (lambda n, a: n.record_spikes(n._sources[0]), TypeError, ["source"]),
    (lambda n, a: n.record_state([0]), ValueError, ["times", "dt"]),
    (lambda n, a: n.record_state([0], [1.0], dt=1.0), ValueError, ["times", "dt"]),
    (lambda n, a: n.record_state([0], dt=0.0), ValueError, ["dt"]),
    (lambda n, a: n.record_state([0], dt=1e-20, start=5.0), ValueError, ["dt", "resolution"]),
    (lambda n, a: n.record_state([0], dt=1.0, start=5.0, stop=2.0), ValueError, ["stop"]),
    (lambda n, a: n.record_state([0], dt=1.0, variables=()), ValueError, ["variables"]),
    (lambda n, a: n.record_state([0], dt=1.0, variables=("v", "v")), ValueError, ["variables"]),
    (lambda n, a: n.record_state([0], dt=1.0, name=3), TypeError, ["name"]),
    (lambda n, a: n.record_rate(n._sources[0]), TypeError, ["population"]),
    (lambda n, a: n.record_rate(a, bin=0.0), ValueError, ["bin"]),
    (lambda n, a: n.record_rate(a, bin=math.inf), ValueError, ["bin"]),
    (lambda n, a: n.projections[0].record_weights([math.nan]), ValueError, ["times"]),
    (lambda n, a: n.projections[0].record_weights(["x"]), TypeError, ["times"]),
])
def test_bad_recorders_are_refused(call, exc, words):
    net, a, b = build()
    with pytest.raises(exc) as e:
        call(net, a)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    assert net._spike_recs is None and not net._probes and not net._rate_recs and not net._weight_recs


def test_duplicates_and_late_recorders_are_refused():
    net, a, b = build()
    net.record_state([0], dt=1.0, name="x")
    with pytest.raises(ValueError, match="'x'"):
        net.record_state([1], dt=1.0, name="x")
    net.record_rate(a)
    with pytest.raises(ValueError, match="rate recorder already"):
        net.record_rate(a, bin=2.0)
    net.run(5.0)
    for call in (lambda: net.record_spikes(a), lambda: net.record_state([0], dt=1.0),
                 lambda: net.record_rate(b)):
        with pytest.raises(RuntimeError, match="after the network has run"):
            call()


def test_to_pandas():
    pd = pytest.importorskip("pandas")
    net, a, b = build()
    net.record_state([0, 1], dt=10.0)
    net.record_rate(b, bin=10.0)
    r = net.run(50.0)
    df = r.to_pandas("spikes")
    assert list(df.columns) == ["time_ms", "id", "population"] and len(df) == len(r.spikes)
    assert set(df.population) <= {"a", "b"}
    assert (df.population == "a").sum() == len(r.spikes_of("a"))
    st = r.to_pandas("states")
    assert len(st) == 2 * len(r.states.times) and np.array_equal(st.v.to_numpy(), r.states.v.reshape(-1))
    assert r.to_pandas("rates")["count"].sum() == len(r.spikes_of("b"))
    with pytest.raises(ValueError, match="what"):
        r.to_pandas("nothing")
    assert isinstance(r.to_pandas("counts"), pd.DataFrame)


def test_rates_and_weight_snapshots_survive_save_and_load(tmp_path):
    one, a1, _ = build(plastic=True)
    one.record_spikes(a1, start=20.0)
    r1 = one.record_rate(a1, bin=2.5)
    w1 = one.projections[0].record_weights([5.0, 60.0, 61.0, 90.0])
    one.run(90.0)
    two, a2, _ = build(plastic=True)
    two.record_spikes(a2, start=20.0)
    two.record_rate(a2, bin=2.5)
    two.projections[0].record_weights([5.0, 60.0, 61.0, 90.0])
    two.run(60.5)
    ev.save(two, tmp_path / "two.npz")
    back = ev.load(tmp_path / "two.npz")
    assert back._spike_recs[0].start == 20.0 and back._rate_recs[0].bin == 2.5
    back.run(29.5)
    same_spikes(back.spikes, one.spikes)
    assert one.spikes.times.min() >= 20.0
    d1, d2 = r1.data, back._rate_recs[0].data
    assert np.array_equal(d1.times, d2.times) and np.array_equal(d1.counts, d2.counts)
    wb = back._weight_recs[0]
    assert np.array_equal(wb.taken, w1.taken) and np.array_equal(wb.values, w1.values)


def test_source_spikes_can_go_unrecorded(reference, tmp_path):
    net, a, b = build()
    net.record_source_spikes(False)
    r = net.run(100.0)
    ev.save(net, tmp_path / "s.npz")
    back = ev.load(tmp_path / "s.npz")
    r2 = back.run(50.0)
    assert len(r.source_spikes) == 0 and len(r2.source_spikes) == 0 and len(net.source_spikes) == 0
    assert r.counts.source_spikes > 0
    assert r.counts + r2.counts == reference.counts
    same_spikes(ev.Spikes(np.concatenate([r.spikes.times, r2.spikes.times]),
                          np.concatenate([r.spikes.ids, r2.spikes.ids])), reference.spikes)
    assert not net.records_every_spike
    with pytest.raises(ValueError, match="record_source_spikes"):
        net.report(r)
    with pytest.raises(TypeError, match="on"):
        build()[0].record_source_spikes("no")
