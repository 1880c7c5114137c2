"""Per-neuron bias currents (``Network.population(i_bias=...)``, for NIR layers with
biases): a population whose neurons have their own biases spikes as the same network
built from one population per neuron, each with its bias in its model (the shared-bias
code path); single neurons follow their closed form; save/load and copies continue."""
import math

import numpy as np
import pytest

import eventsnn as ev


def _model(kind, bias=0.0):
    if kind == "delta":
        return ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=1.0, v_reset=0.2,
                      t_ref=0.0, i_bias=bias)
    if kind == "general":       # tau_syn near tau_m: the general (not frame) representation
        return ev.LIF(tau_m=10.0, tau_syn_exc=9.0, tau_syn_inh=11.0, v_rest=-0.1, v_th=1.0, v_reset=0.0,
                      t_ref=0.0, i_bias=bias, tau_in=5.0)
    return ev.LIF(tau_m=10.0, tau_syn_exc=2.0, tau_syn_inh=4.0 if kind == "exp" else 0.0, v_rest=-0.1,
                  v_th=1.0, v_reset=0.0, t_ref=0.0, i_bias=bias, tau_in=5.0)


def _synapses(rng, n, k):
    pre = rng.integers(0, n, k)
    post = rng.integers(0, n, k)
    w = rng.uniform(-0.4, 0.5, k)
    d = rng.choice([0.5, 1.25, 2.0], k)
    return pre, post, w, d


def _pair(kind, seed, n=10):
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.5, 1.6, n) if kind == "delta" else rng.uniform(0.1, 0.5, n)
    v0 = rng.uniform(0.0, 0.9, n)
    pre, post, w, d = _synapses(rng, n, 4 * n)
    st = np.sort(rng.uniform(0.0, 80.0, 60))
    sid = rng.integers(0, 5, 60)
    ipre, ipost, iw = rng.integers(0, 5, 3 * n), rng.integers(0, n, 3 * n), rng.uniform(0.1, 0.6, 3 * n)
    # one population, own biases
    a = ev.Network(seed=1)
    pa = a.population(n, _model(kind, 0.02), name="p", v_init=v0, i_bias=b)
    sa = a.spike_source(st, sid, n=5, name="s")
    a.connect(sa, pa, ev.from_lists(ipre, ipost, iw, 0.3, n_pre=5, n_post=n), delay=None)
    a.connect(pa, pa, ev.from_lists(pre, post, w, d, n_pre=n, n_post=n), delay=None)
    # one population per neuron, its bias in its model
    c = ev.Network(seed=1)
    ps = [c.population(1, _model(kind, 0.02 + b[i]), name=f"p{i}", v_init=v0[i]) for i in range(n)]
    sc = c.spike_source(st, sid, n=5, name="s")
    for i in range(n):
        m = ipost == i
        if m.any():
            c.connect(sc, ps[i], ev.from_lists(ipre[m], np.zeros(m.sum(), np.int64), iw[m], 0.3, n_pre=5,
                                               n_post=1), delay=None)
        for j in range(n):
            m = (pre == i) & (post == j)
            if m.any():
                c.connect(ps[i], ps[j], ev.from_lists(np.zeros(m.sum(), np.int64), np.zeros(m.sum(), np.int64),
                                                      w[m], d[m], n_pre=1, n_post=1), delay=None)
    return a, c


@pytest.mark.parametrize("kind", ["delta", "exp", "mixed", "general"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_own_biases_equal_one_population_per_neuron(kind, seed):
    a, c = _pair(kind, seed)
    a.record_state(np.arange(10), dt=1.0)
    c.record_state(np.arange(10), dt=1.0)
    ra, rc = a.run(100.0), c.run(100.0)
    assert len(rc.spikes) > 20
    assert len(ra.spikes) == len(rc.spikes)
    np.testing.assert_allclose(ra.spikes.times, rc.spikes.times, rtol=0, atol=1e-9)
    assert np.array_equal(ra.spikes.ids, rc.spikes.ids)
    np.testing.assert_allclose(ra.states.v, rc.states.v, rtol=1e-9, atol=1e-9)


def test_closed_form_and_theta_report():
    net = ev.Network()
    m = _model("delta")
    b = np.array([0.5, 1.5, 3.0])                   # v_inf = b (tau_in = tau_m)
    p = net.population(3, m, name="p", v_init=0.0, i_bias=b)
    net.record_state(p, dt=0.25, variables=("v", "theta"))
    r = net.run(40.0)
    s = r.spikes
    assert not (s.ids == 0).any()
    for j, vinf in ((1, 1.5), (2, 3.0)):
        first = -10.0 * math.log(1.0 - 1.0 / vinf)
        period = -10.0 * math.log((vinf - 1.0) / (vinf - 0.2))
        tj = s.times[s.ids == j]
        np.testing.assert_allclose(tj, first + period * np.arange(len(tj)), rtol=1e-12)
    t = r.states.times
    np.testing.assert_allclose(r.states.v[:, 0], 0.5 * (1 - np.exp(-t / 10.0)), rtol=1e-12, atol=1e-15)
    before = t < s.times[s.ids == 2][0]
    np.testing.assert_allclose(r.states.v[before, 2], 3.0 * (1 - np.exp(-t[before] / 10.0)), rtol=1e-12)
    assert np.array_equal(r.states.theta, np.zeros_like(r.states.theta))
    assert np.array_equal(p.theta, np.zeros(3)) and np.array_equal(p.i_bias, b)


def test_split_save_load_and_theta_writes(tmp_path):
    a, _ = _pair("exp", 4)
    r1 = a.run(100.0)
    b, _ = _pair("exp", 4)
    b.run(37.5)
    ev.save(b, tmp_path / "b.npz")
    back = ev.load(tmp_path / "b.npz")
    r2 = back.run(62.5)
    m = r1.spikes.times > 37.5
    assert np.array_equal(r2.spikes.times, r1.spikes.times[m]) and np.array_equal(r2.spikes.ids, r1.spikes.ids[m])
    # a threshold offset written between runs is the neuron's own, not shifted by its bias
    pop = back._pops[0]
    pop.set_theta(0.25)
    assert np.array_equal(pop.theta, np.full(10, 0.25))


@pytest.mark.parametrize("kw, exc, words", [
    (dict(i_bias=[0.1, 0.2]), ValueError, ["i_bias", "shape"]),
    (dict(i_bias=["a", "b", "c"]), TypeError, ["i_bias"]),
    (dict(i_bias=[0.1, np.nan, 0.0]), ValueError, ["i_bias", "nan"]),
])
def test_bad_biases(kw, exc, words):
    net = ev.Network()
    with pytest.raises(exc) as e:
        net.population(3, _model("delta"), **kw)
    for w in words:
        assert w in str(e.value)
    assert net.n_neurons == 0
    with pytest.raises(ValueError, match="t_ref"):
        net.population(3, ev.LIF(t_ref=2.0), i_bias=np.zeros(3))
    with pytest.raises(ValueError, match="tau_m"):
        net.population(3, ev.LIF(tau_m=math.inf, tau_in=5.0, t_ref=0.0), i_bias=np.zeros(3))
    ok = ev.Network()
    ok.population(3, _model("delta"), i_bias=np.zeros(3))
    with pytest.raises(ValueError, match="bias"):
        ev.ClockEngine(ok, 0.1)
