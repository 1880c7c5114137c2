"""eventsnn.plot: what each function draws (data of the artists, labels, legends, errors),
not pixels.  Networks are small (the first run compiles the kernels)."""
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import eventsnn as ev  # noqa: E402
from eventsnn import plot  # noqa: E402
from eventsnn.analysis import cv_isi  # noqa: E402
from eventsnn.plasticity import STDP, Vogels  # noqa: E402

SAMPLED = [0, 1, 170]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def run():
    """A small balanced network (160 exc + 40 inh, delta synapses, Poisson drive) run for
    150 ms, with V and the currents of three neurons sampled every ms."""
    net = ev.Network(seed=1)
    lif = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
                 t_ref=2.0)
    exc = net.population(160, lif, name="exc", v_init=(0.0, 20.0))
    inh = net.population(40, lif, name="inh", v_init=(0.0, 20.0))
    projs = []
    for post in (exc, inh):
        projs.append(net.connect(exc, post, ev.fixed_indegree(16), weight=lambda g, n: g.uniform(0.2, 0.8, n),
                                 delay=1.5))
        projs.append(net.connect(inh, post, ev.fixed_indegree(4), weight=-2.5, delay=1.5))
        net.poisson_drive(post, rate=20_000.0, weight=0.1)
    net.record_state(SAMPLED, times=np.arange(0.0, 150.0, 1.0))
    res = net.run(150.0)
    assert len(res.spikes_of("exc")) > 100 and len(res.spikes_of("inh")) > 20
    return net, res, projs


def _points(ax):
    return sum(len(line.get_xdata()) for line in ax.lines)


def _heights(ax):
    return np.array([p.get_height() for p in ax.patches])


def _legend(ax):
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg is not None else []


# ============================================================================ optional dependency

def test_importing_eventsnn_does_not_import_matplotlib():
    code = ("import sys, eventsnn, eventsnn.plot, eventsnn.analysis; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    # a None entry in sys.modules makes "import matplotlib..." raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "eventsnn\[plot\]"'):
        plot.raster((np.array([1.0]), np.array([0])))
    with pytest.raises(ImportError, match=r'pip install "eventsnn\[plot\]"'):
        plot.subplots(1, 2)


# ============================================================================ raster

def test_raster_of_a_result_colours_populations(run):
    _, res, _ = run
    ax = plot.raster(res)
    assert _legend(ax) == list(res.populations) == ["exc", "inh"]
    assert len(ax.lines) == 2 and _points(ax) == len(res.spikes)
    for line, name in zip(ax.lines, res.populations):
        off = res.populations[name][0]
        s = res.spikes_of(name)
        np.testing.assert_array_equal(line.get_xdata(), s.times)
        np.testing.assert_array_equal(line.get_ydata(), s.ids + off)   # global ids
    assert ax.lines[0].get_color() != ax.lines[1].get_color()
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "neuron id"
    assert ax.get_xlim() == (0.0, 150.0)


def test_raster_of_spikes_and_tuples_is_one_black_set(run):
    _, res, _ = run
    for data in (res.spikes, (res.spikes.times, res.spikes.ids)):
        ax = plot.raster(data)
        assert len(ax.lines) == 1 and _points(ax) == len(res.spikes)
        assert ax.get_legend() is None
    ax = plot.raster(res, populations=False)
    assert len(ax.lines) == 1 and _points(ax) == len(res.spikes)


def test_raster_options(run):
    _, res, _ = run
    fig, axes = plt.subplots(1, 3)
    # a given dict: spikes outside it are left out; colours by name
    ax = plot.raster(res.spikes, ax=axes[0], populations={"first": (0, 10), "last": (190, 10)},
                     colors={"first": "red", "last": "blue"})
    assert ax is axes[0]
    assert _legend(ax) == ["first", "last"]
    ids = res.spikes.ids
    assert _points(ax) == int(((ids < 10) | (ids >= 190)).sum())
    assert ax.lines[0].get_color() == "red"
    # a subset of the Result's populations
    ax = plot.raster(res, ax=axes[1], populations=["inh"])
    assert _legend(ax) == ["inh"] and _points(ax) == len(res.spikes_of("inh"))
    # the first 5 neurons of each population, stacked: y in [0, 10)
    ax = plot.raster(res, ax=axes[2], per_population=5)
    assert _points(ax) == int(((ids < 5) | ((ids >= 160) & (ids < 165))).sum())
    ys = np.concatenate([line.get_ydata() for line in ax.lines])
    assert ys.min() >= 0 and ys.max() < 10
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), res.spikes_of("inh").ids[res.spikes_of("inh").ids < 5] + 5)
    with pytest.raises(ValueError, match="not populations"):
        plot.raster(res, populations=["nope"])
    with pytest.raises(TypeError, match="Result, Spikes"):
        plot.raster(np.zeros(3))


# ============================================================================ rates and intervals

def _expected_rate(times, n, bin, t0, t1):
    """Spikes in (k bin, (k+1) bin] per neuron and second, by searchsorted."""
    edges = np.arange(np.floor(t0 / bin), np.ceil(t1 / bin) + 1) * bin
    k = np.searchsorted(edges, times, side="left") - 1    # edges[k] < t <= edges[k+1]
    counts = np.bincount(k, minlength=edges.size - 1)
    return edges, counts / n / (bin / 1000.0)


def test_population_rate_bins_spikes(run):
    _, res, _ = run
    ax = plot.population_rate(res, "exc", bin=5.0)
    (patch,) = ax.patches
    values, edges, _ = patch.get_data()
    exp_edges, exp_rate = _expected_rate(res.spikes_of("exc").times, 160, 5.0, 0.0, 150.0)
    np.testing.assert_allclose(edges, exp_edges)
    np.testing.assert_allclose(values, exp_rate)
    # every spike counted once
    assert values.sum() * 160 * 5.0 / 1000.0 == pytest.approx(len(res.spikes_of("exc")))
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "rate (Hz per neuron)"
    assert _legend(ax) == ["exc"]


def test_population_rate_all_neurons_several_populations_and_spikes(run):
    _, res, _ = run
    ax = plot.population_rate(res, bin=10.0)
    values = ax.patches[0].get_data()[0]
    np.testing.assert_allclose(values, _expected_rate(res.spikes.times, 200, 10.0, 0.0, 150.0)[1])
    ax = plot.population_rate(res, ["exc", "inh"], bin=10.0)
    assert _legend(ax) == ["exc", "inh"] and len(ax.patches) == 2
    assert ax.patches[0].get_edgecolor() != ax.patches[1].get_edgecolor()
    # one call per population on the same axes: colours still cycle
    ax = plot.population_rate(res, "exc", bin=10.0)
    plot.population_rate(res, "inh", bin=10.0, ax=ax)
    assert _legend(ax) == ["exc", "inh"]
    assert ax.patches[0].get_edgecolor() != ax.patches[1].get_edgecolor()
    # bare spikes need the number of neurons (silent ones count)
    s = res.spikes_of("inh")
    ax = plot.population_rate(s, n=40, bin=10.0, t_start=0.0, t_stop=150.0)
    np.testing.assert_allclose(ax.patches[0].get_data()[0], _expected_rate(s.times, 40, 10.0, 0.0, 150.0)[1])
    with pytest.raises(ValueError, match="n="):
        plot.population_rate(s)
    with pytest.raises(ValueError, match="needs a Result"):
        plot.population_rate(s, "inh", n=40)


def test_population_rate_draws_a_precomputed_rate():
    pr = SimpleNamespace(bin=2.0, times=np.array([0.0, 2.0, 4.0]), counts=np.array([1, 0, 3]),
                         rate=np.array([5.0, 0.0, 15.0]))
    ax = plot.population_rate(pr, label="a")
    values, edges, _ = ax.patches[0].get_data()
    np.testing.assert_array_equal(values, pr.rate)
    np.testing.assert_array_equal(edges, [0.0, 2.0, 4.0, 6.0])
    plot.population_rate(pr, ax=ax, label="b")
    assert _legend(ax) == ["a", "b"] and ax.patches[0].get_edgecolor() != ax.patches[1].get_edgecolor()
    # without a bin attribute the width comes from the spacing
    ax = plot.population_rate(SimpleNamespace(times=np.array([10.0, 11.0]), rate=np.array([1.0, 2.0])))
    np.testing.assert_array_equal(ax.patches[0].get_data()[1], [10.0, 11.0, 12.0])


def test_population_rate_draws_the_engines_record():
    PopulationRate = getattr(ev, "PopulationRate", None)
    if PopulationRate is None:
        pytest.skip("this eventsnn has no PopulationRate")
    pr = PopulationRate(bin=2.0, size=4, times=np.array([10.0, 12.0]), counts=np.array([1, 3]))
    values, edges, _ = plot.population_rate(pr).patches[0].get_data()
    np.testing.assert_array_equal(values, pr.rate)
    np.testing.assert_array_equal(edges, [10.0, 12.0, 14.0])


def test_population_rate_of_spikes_equals_the_engines_rate_recorder():
    net = ev.Network(seed=2)
    if not hasattr(net, "record_rate"):
        pytest.skip("this eventsnn has no record_rate")
    lif = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
                 t_ref=2.0)
    pop = net.population(50, lif, name="p", v_init=(0.0, 20.0))
    net.poisson_drive(pop, rate=15_000.0, weight=0.1)
    rec = net.record_rate(pop, bin=5.0)
    res = net.run(100.0)
    a = plot.population_rate(rec.data).patches[0].get_data()
    b = plot.population_rate(res, "p", bin=5.0).patches[0].get_data()
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])


def test_isi_hist_counts_every_interval(run):
    _, res, _ = run
    s = res.spikes_of("exc")
    per_neuron = np.bincount(s.ids, minlength=160)
    n_isi = int(np.maximum(per_neuron - 1, 0).sum())
    ax = plot.isi_hist(res, "exc", bins=40)
    h = _heights(ax)
    assert h.size == 40 and h.sum() == n_isi
    assert ax.get_xlabel() == "inter-spike interval (ms)" and ax.get_ylabel() == "intervals"
    # all neurons, and from bare spikes
    n_all = len(res.spikes) - np.unique(res.spikes.ids).size
    assert _heights(plot.isi_hist(res)).sum() == n_all
    assert _heights(plot.isi_hist(res.spikes)).sum() == n_all
    # the smallest interval is at least the refractory period (2 ms)
    assert ax.patches[0].get_x() >= 2.0 - 1e-12


def test_cv_hist_counts_neurons_with_three_spikes(run):
    _, res, _ = run
    s = res.spikes_of("inh")
    ax = plot.cv_hist(res, "inh", bins=20)
    assert _heights(ax).sum() == int((np.bincount(s.ids, minlength=40) >= 3).sum())
    mean = cv_isi(s.times, s.ids, 40)
    (vline,) = [line for line in ax.lines]
    assert vline.get_xdata()[0] == pytest.approx(mean)
    assert f"{mean:.3f}" in ax.get_title()
    assert ax.get_ylabel() == "neurons"


# ============================================================================ states

def test_traces_draw_the_samples(run):
    _, res, _ = run
    st = res.states
    ax = plot.traces(st)
    assert len(ax.lines) == len(SAMPLED)
    for k, line in enumerate(ax.lines):
        np.testing.assert_array_equal(line.get_xdata(), st.times)
        np.testing.assert_array_equal(line.get_ydata(), st.v[:, k])
    assert _legend(ax) == [f"neuron {i}" for i in SAMPLED]
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel().endswith("(mV)")
    ax = plot.traces(res, "i_exc", ids=[170])
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), st.i_exc[:, 2])
    assert "I_exc" in ax.get_ylabel()
    with pytest.raises(ValueError, match="not sampled"):
        plot.traces(st, ids=[5])


def test_traces_refuse_a_variable_that_was_not_recorded():
    t = np.arange(3.0)
    v = np.zeros((3, 2))
    st = SimpleNamespace(times=t, ids=np.array([0, 1]), v=v, i_exc=v, i_inh=v, theta=None)
    with pytest.raises(ValueError, match="'theta' was not recorded"):
        plot.traces(st, "theta")
    with pytest.raises(ValueError, match="'w' is not a sampled variable"):
        plot.traces(st, "w")
    with pytest.raises(ValueError, match="record_state"):
        plot.traces(SimpleNamespace(spikes=None, populations={}, states=None))
    st.theta = np.ones((3, 2))
    ax = plot.traces(st, "theta")
    assert "threshold" in ax.get_ylabel() and len(ax.lines) == 2


# ============================================================================ weights

def test_weight_hist_of_a_projection(run):
    _, _, projs = run
    proj = projs[0]
    ax = plot.weight_hist(proj, bins=25)
    assert _heights(ax).sum() == proj.weights.size == 160 * 16
    assert ax.get_xlabel() == "weight (mV)" and ax.get_ylabel() == "synapses"
    # overlays share edges; a label makes a legend
    edges = np.linspace(0.0, 1.0, 11)
    plot.weight_hist(proj.weights, edges, ax=ax, label="final", histtype="step")
    assert _legend(ax) == ["final"]


def test_weight_matrix_of_a_projection_sparse_and_dense(run):
    _, _, projs = run
    proj = projs[0]
    ax = plot.weight_matrix(proj)
    (im,) = ax.images
    arr = im.get_array()
    S = proj.to_scipy()
    assert arr.shape == S.shape == (160, 160)
    np.testing.assert_allclose(arr.filled(0.0), S.toarray())
    # pairs without a synapse are blank (masked)
    assert int((~np.ma.getmaskarray(arr)).sum()) == len({(r, c) for r, c in zip(*S.nonzero())})
    assert ax.get_xlabel() == "postsynaptic neuron" and ax.get_ylabel() == "presynaptic neuron"
    assert len(ax.figure.axes) == 2                       # the colour bar
    assert ax.figure.axes[1].get_ylabel() == "weight (mV)"
    assert im.get_cmap().name == "viridis"
    # a dense matrix of mixed signs: diverging, centred on 0
    W = np.array([[1.0, -3.0], [0.0, 2.0]])
    ax = plot.weight_matrix(W, colorbar=False)
    im = ax.images[0]
    np.testing.assert_array_equal(im.get_array(), W)
    assert im.get_cmap().name == "RdBu_r" and im.get_clim() == (-3.0, 3.0)
    with pytest.raises(ValueError, match="max_entries"):
        plot.weight_matrix(np.zeros((100, 100)), max_entries=1000)
    with pytest.raises(ValueError, match="2-D"):
        plot.weight_matrix(np.zeros(4))


# ============================================================================ STDP window

def test_stdp_window_additive_is_the_pair_window():
    rule = STDP(a_plus=0.01, a_minus=0.0105, tau_plus=20.0, tau_minus=30.0)
    ax = plot.stdp_window(rule, t_range=80.0)
    line = ax.lines[-1]
    dt, dw = line.get_xdata(), line.get_ydata()
    assert dt[0] == -80.0 and dt[-1] == 80.0 and 0.0 in dt
    exp = np.where(dt >= 0, 0.01 * np.exp(-dt / 20.0), -0.0105 * np.exp(dt / 30.0))
    np.testing.assert_allclose(dw, exp, rtol=1e-15)
    assert dw[dt == 0.0][0] == 0.01            # simultaneous: potentiation
    assert ax.get_xlabel() == "Δt = t_post − t_pre (ms)" and ax.get_ylabel() == "weight change Δw (mV)"
    assert "additive" in ax.get_title() and "evaluated" not in ax.get_title()


def test_stdp_window_multiplicative_states_the_weight():
    rule = STDP(a_plus=0.1, a_minus=0.1, w_min=0.0, w_max=2.0, weight_dependence="multiplicative")
    ax = plot.stdp_window(rule, w=0.5)
    dt, dw = ax.lines[-1].get_xdata(), ax.lines[-1].get_ydata()
    u = 0.25
    exp = np.where(dt >= 0, (1 - u) * 0.1 * np.exp(-dt / 20.0), -u * 0.1 * np.exp(dt / 20.0))
    np.testing.assert_allclose(dw, exp, rtol=1e-12)  # (w + dw) - w rounds
    assert "multiplicative" in ax.get_title() and "w = 0.5 mV" in ax.get_title()
    # default: the middle of the range, said in the title
    assert "w = 1 mV" in plot.stdp_window(rule).get_title()
    with pytest.raises(ValueError, match="outside"):
        plot.stdp_window(rule, w=3.0)


def test_stdp_window_vogels_and_arrays():
    rule = Vogels(eta=1e-3, rho0=5.0, tau=20.0)
    dt, dw = plot.stdp_window(rule).lines[-1].get_data()
    # inhibitory: strengthening makes w more negative
    np.testing.assert_allclose(dw, -(1e-3 * np.exp(-np.abs(dt) / 20.0) - 1e-3 * rule.alpha), rtol=1e-14)
    x = np.linspace(-5, 5, 11)
    ax = plot.stdp_window((x, x ** 2))
    np.testing.assert_array_equal(ax.lines[-1].get_ydata(), x ** 2)
    with pytest.raises(TypeError, match="rule must be"):
        plot.stdp_window("stdp")


def test_stdp_window_equals_the_engine():
    """One postsynaptic spike at 60 ms (forced by a driver) and one presynaptic spike per
    plastic synapse: the weight changes the engine makes equal the drawn window at the
    same Delta t (additive, and multiplicative at the initial weight)."""
    delay = 1.0
    dts = np.arange(-40.0, 41.0, 4.0)               # t_post - t_pre(arrival), ms
    t_post = 60.0
    lif = ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=1000.0, v_reset=0.0,
                 t_ref=0.0)
    rules = [STDP(a_plus=0.01, a_minus=0.012, tau_plus=15.0, tau_minus=25.0, w_min=0.0, w_max=1.0),
             STDP(a_plus=0.05, a_minus=0.04, tau_plus=15.0, tau_minus=25.0, w_min=0.0, w_max=1.0,
                  weight_dependence="multiplicative")]
    net = ev.Network(seed=3)
    pre = net.spike_source(t_post - dts - delay, np.arange(dts.size), n=dts.size, name="pre")
    drv = net.spike_source([t_post], [0], name="driver")
    projs = []
    for k, rule in enumerate(rules):
        post = net.population(1, lif, name=f"post{k}")
        net.connect(drv, post, ev.all_to_all(), weight=5000.0, delay=0.0)
        projs.append(net.connect(pre, post, ev.all_to_all(), weight=0.4, delay=delay, plasticity=rule))
    res = net.run(120.0)
    np.testing.assert_array_equal(res.spikes.times, [t_post, t_post])
    for rule, proj in zip(rules, projs):
        w = None if rule.weight_dependence == "additive" else 0.4
        ax = plot.stdp_window(rule, t_range=40.0, n_points=21, w=w)
        dt, dw = ax.lines[-1].get_data()
        np.testing.assert_allclose(dt, dts)
        np.testing.assert_allclose(proj.weights - 0.4, dw, rtol=1e-9, atol=1e-15)


# ============================================================================ training and counts

def _history():
    """Three epochs with the keys gradients.fit returns (test set evaluated)."""
    out = []
    for ep, (loss, acc, sil) in enumerate([(1.1, 0.4, 0.3), (0.8, 0.6, 0.2), (0.6, 0.75, 0.15)], 1):
        out.append({"epoch": ep, "loss": loss, "accuracy": acc, "silent": sil, "silent_label": 0.0,
                    "spikes_per_sample": 30.0, "bumped": 0, "epoch_s": 1.0, "cpu_s": 1.0, "lr": 5e-3,
                    "counts": {"forward_spikes": 10}, "test_loss": loss + 0.1, "test_accuracy": acc - 0.05})
    return out


def test_training_curves():
    h = _history()
    ax = plot.training_curves(h)
    twin = ax.figure.axes[-1]
    assert twin is not ax
    by_label = {line.get_label(): line for a in (ax, twin) for line in a.lines}
    assert set(by_label) == {"training loss", "test loss", "training accuracy", "test accuracy",
                             "silent fraction"}
    np.testing.assert_array_equal(by_label["training loss"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(by_label["training loss"].get_ydata(), [m["loss"] for m in h])
    np.testing.assert_array_equal(by_label["test accuracy"].get_ydata(), [m["test_accuracy"] for m in h])
    np.testing.assert_array_equal(by_label["silent fraction"].get_ydata(), [m["silent"] for m in h])
    assert by_label["training accuracy"] in twin.lines and by_label["training loss"] in ax.lines
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert len(_legend(twin)) == 5
    # a dict of lists, without silent fraction
    ax = plot.training_curves({"loss": [1.0, 0.5], "accuracy": [0.5, 0.9]})
    assert len(ax.lines) == 1 and len(ax.figure.axes[-1].lines) == 1
    with pytest.raises(ValueError, match="loss"):
        plot.training_curves([])


def test_op_counts_bars_are_the_report(run):
    net, res, _ = run
    rep = net.report(res, dt=0.1)
    d = rep.as_dict()
    ax = plot.op_counts(rep)
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "operations"
    cols = [d["event"], d["clock"], d["ann"]]
    expected = sorted(v["count"] for c in cols for v in c["ops"].values() if v["count"])
    assert sorted(_heights(ax)) == expected
    # per operation: one bar per column that has it, with the column's count
    for cont in ax.containers:
        name = cont.get_label().replace(" ", "_")
        want = [c["ops"][name]["count"] for c in cols if c["ops"].get(name, {}).get("count")]
        assert [b.get_height() for b in cont] == want
    assert "synaptic accumulates" in _legend(ax) and "macs" in _legend(ax)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0].startswith("event-driven") and labels[2].startswith("dense ANN")
    ax = plot.op_counts(d, what="energy")
    assert ax.get_ylabel() == "energy estimate (pJ)"
    exp_e = sorted(v for c in cols for k, v in c["energy_pj"].items() if k != "total" and v > 0)
    np.testing.assert_allclose(sorted(_heights(ax)), exp_e)
    with pytest.raises(ValueError, match="what="):
        plot.op_counts(rep, what="time")
