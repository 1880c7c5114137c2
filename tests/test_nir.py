"""Issue 19 (first part): NIR import and export.  Single neurons against their closed
forms, hand-built graphs against an independent computation, round trips, bad graphs."""
import math

import numpy as np
import pytest

nir = pytest.importorskip("nir")

import eventsnn as ev                                   # noqa: E402
from eventsnn.nir_io import READOUT_VTH, from_nir, to_nir   # noqa: E402

DT = 1e-4       # s: snnTorch's export step


def lif(n, tau=1e-3, r=None, v_leak=0.0, vth=1.0, v_reset=0.0):
    r = tau / DT if r is None else r
    f = lambda v: np.full(n, float(v))                  # noqa: E731
    return nir.LIF(tau=f(tau), r=f(r), v_leak=f(v_leak), v_threshold=f(vth), v_reset=f(v_reset))


def cuba(n, tau_syn=5e-4, tau_mem=1e-3, r=2.0, w_in=None, vth=1.0, readout=False):
    w_in = tau_syn / DT if w_in is None else w_in
    f = lambda v: np.full(n, float(v))                  # noqa: E731
    kw = dict(tau_syn=f(tau_syn), tau_mem=f(tau_mem), r=f(r), v_leak=f(0.0), w_in=f(w_in))
    return nir.CubaLI(**kw) if readout else nir.CubaLIF(**kw, v_threshold=f(vth), v_reset=f(0.0))


def graph(nodes, edges, n_in, type_check=True):
    nodes = {"in": nir.Input(input_type={"input": np.array([n_in])}), **nodes}
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=type_check)


# ------------------------------------------------------------------ single neurons
def test_lif_single_neuron_closed_form():
    """tau dv/dt = (v_leak - v) + r I with spikes of area dt: V jumps by r W dt / tau."""
    tau, r, W, vl = 2e-3, 7.0, 0.3, 0.25
    g = graph({"lin": nir.Linear(weight=np.array([[W]])), "n": lif(1, tau=tau, r=r, v_leak=vl, vth=5.0)},
              [("in", "lin"), ("lin", "n")], 1)
    t_in = np.array([0.5e-3, 1.2e-3, 4.0e-3])                  # s
    net = from_nir(g, {"in": (t_in, np.zeros(3, np.int64))})
    ts = np.linspace(0.0, 6.0, 61)                             # ms
    net.record_state([0], ts)
    v = net.run(6.0).states.v[:, 0]
    jump = r * W * DT / tau
    ref = vl + 0.0 * ts - vl * np.exp(-ts / 2.0)               # from V(0) = 0 towards v_leak
    for tk in t_in * 1000.0:
        ref = ref + np.where(ts > tk, jump * np.exp(-(ts - tk) / 2.0), 0.0)
    np.testing.assert_allclose(v, ref, rtol=1e-12, atol=1e-13)


def test_cubalif_single_neuron_closed_form():
    """tau_syn dI/dt = -I + w_in S, tau_mem dv/dt = -v + r I: the double exponential."""
    ts_, tm, r, w_in, W = 5e-4, 2e-3, 3.0, 4.0, 0.8
    g = graph({"lin": nir.Linear(weight=np.array([[W]])), "n": cuba(1, ts_, tm, r, w_in, vth=50.0)},
              [("in", "lin"), ("lin", "n")], 1)
    net = from_nir(g, {"in": (np.array([1e-3]), np.array([0]))})
    t = np.linspace(0.0, 8.0, 81)
    net.record_state([0], t)
    s = net.run(8.0).states
    i0 = w_in * W * DT / ts_                                   # the current's jump
    a, b = ts_ * 1000, tm * 1000
    u = np.clip(t - 1.0, 0.0, None)
    i_ref = np.where(t > 1.0, i0 * np.exp(-u / a), 0.0)
    v_ref = np.where(t > 1.0, r * i0 * a / (a - b) * (np.exp(-u / a) - np.exp(-u / b)), 0.0)
    np.testing.assert_allclose(s.i_exc[:, 0], i_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s.v[:, 0], v_ref, rtol=1e-10, atol=1e-13)


def test_if_and_biases_closed_form():
    """IF: dv/dt = r I (V jumps by r W dt, a bias b raises V at r b per time unit);
    a bias into CubaLIF is filtered: I(t) = w_in b (1 - exp(-t/tau_syn)), exactly."""
    r, b = 2.0, 3.0
    g = graph({"aff": nir.Affine(weight=np.array([[0.5]]), bias=np.array([b])),
               "n": nir.IF(r=np.array([r]), v_threshold=np.array([1e3]), v_reset=np.array([0.0]))},
              [("in", "aff"), ("aff", "n")], 1)
    net = from_nir(g, {"in": (np.array([2e-3]), np.array([0]))})
    t = np.array([1.0, 2.0, 3.0, 5.0])
    net.record_state([0], t)
    v = net.run(5.0).states.v[:, 0]
    ref = r * b * t / 1000.0 + np.where(t > 2.0, r * 0.5 * DT, 0.0)
    np.testing.assert_allclose(v, ref, rtol=1e-13, atol=1e-15)
    ts_, w_in = 5e-4, 1.5
    g = graph({"aff": nir.Affine(weight=np.array([[0.0]]), bias=np.array([b])),
               "n": cuba(1, ts_, 1e-3, 1.0, w_in, vth=1e3)}, [("in", "aff"), ("aff", "n")], 1)
    net = from_nir(g)
    net.record_state([0], t)
    s = net.run(5.0).states
    # the probe reports the synaptic channels; the bias current w_in b is constant
    assert net._pops[0].model.i_bias == w_in * b
    np.testing.assert_allclose(w_in * b + s.i_exc[:, 0] + s.i_inh[:, 0], w_in * b * (1 - np.exp(-t / 0.5)),
                               rtol=1e-12, atol=1e-13)


def test_per_neuron_biases_are_exact():
    """Affine biases that differ per neuron: LIF neurons relax to v_leak + r b, CubaLIF
    currents to w_in b through the synapse; both exactly."""
    b = np.array([0.5, -0.2, 0.03])
    tau, r = 2e-3, 1.5
    g = graph({"aff": nir.Affine(weight=np.zeros((3, 1)), bias=b), "n": lif(3, tau=tau, r=r, vth=50.0)},
              [("in", "aff"), ("aff", "n")], 1)
    net = from_nir(g)
    t = np.array([0.5, 1.0, 4.0])
    net.record_state(np.arange(3), t)
    v = net.run(4.0).states.v
    ref = (r * b)[None, :] * (1 - np.exp(-t / 2.0))[:, None]
    np.testing.assert_allclose(v, ref, rtol=1e-12, atol=1e-14)
    w_in, ts_ = 2.0, 4e-4
    g = graph({"aff": nir.Affine(weight=np.zeros((3, 1)), bias=b), "n": cuba(3, ts_, 1e-3, 1.0, w_in, vth=50.0)},
              [("in", "aff"), ("aff", "n")], 1)
    net = from_nir(g)
    net.record_state(np.arange(3), t)
    s = net.run(4.0).states
    cur = (w_in * b)[None, :] + s.i_exc + s.i_inh
    np.testing.assert_allclose(cur, (w_in * b)[None, :] * (1 - np.exp(-t / 0.4))[:, None], rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------- networks
def _clock_free_reference(W1, W2, tau, x_times, T):
    """Independent event simulation of in -> W1 -> LIF -> W2 -> LIF with delta jumps
    (V += W), exact exponential decay between input times; thresholds 1, reset 0."""
    def layer(events, W):
        v = np.zeros(W.shape[0])
        last = 0.0
        out = []
        for t in sorted({t for t, _ in events}):
            v *= math.exp(-(t - last) / tau)
            last = t
            for tt, j in events:            # every input of the instant before the test
                if tt == t:
                    v += W[:, j]
            fired = np.nonzero(v >= 1.0)[0]
            out += [(t, k) for k in fired]
            v[fired] = 0.0
        return out
    h = layer(x_times, W1)
    return h, layer([(t + 1e-6, k) for t, k in h], W2)


def test_feedforward_network_against_independent_computation():
    rng = np.random.default_rng(3)
    W1 = rng.uniform(-0.3, 0.9, (12, 6))
    W2 = rng.uniform(-0.2, 0.6, (4, 12))
    g = graph({"l1": nir.Linear(weight=W1), "h": lif(12), "l2": nir.Linear(weight=W2), "o": lif(4),
               "out": nir.Output(output_type={"output": np.array([4])})},
              [("in", "l1"), ("l1", "h"), ("h", "l2"), ("l2", "o"), ("o", "out")], 6)
    x = (rng.random((200, 6)) < 0.15).astype(np.int64)
    net = from_nir(g, {"in": x})
    assert net.nir_outputs == {"out": ["o"]}
    res = net.run(20.0)
    k, j = np.nonzero(x)
    h, o = _clock_free_reference(W1, W2, 1.0, [(0.1 * kk, jj) for kk, jj in zip(k, j)], 20.0)
    got_h = res.spikes_of("h")
    got_o = res.spikes_of("o")
    assert len(h) > 10 and len(o) > 3
    np.testing.assert_allclose(got_h.times, [t for t, _ in h], rtol=0, atol=1e-12)
    assert np.array_equal(got_h.ids, [k for _, k in h])
    np.testing.assert_allclose(got_o.times, [t for t, _ in o], rtol=0, atol=1e-12)
    assert np.array_equal(got_o.ids, [k for _, k in o])


def test_conv_pool_linear_graph():
    """A conv + sum-pool + linear stack equals the dense composition of its maps."""
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.5, (2, 1, 3, 3))
    Wl = rng.normal(0, 0.4, (3, 2 * 3 * 3))
    nodes = {"in": nir.Input(input_type={"input": np.array([1, 8, 8])}),
             "conv": nir.Conv2d(input_shape=(8, 8), weight=w, stride=1, padding=0, dilation=1, groups=1,
                                bias=np.zeros(2)),
             "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
             "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0, end_dim=-1),
             "lin": nir.Linear(weight=Wl), "o": lif(3, vth=1e6)}
    g = nir.NIRGraph(nodes=nodes, edges=[("in", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "lin"),
                                         ("lin", "o")])
    net = from_nir(g)
    pr, = net.projections
    M = pr.to_scipy().toarray()                     # (64 inputs, 3 outputs)
    # reference: the same maps applied to each unit input
    ref = np.zeros((64, 3))
    for i in range(64):
        img = np.zeros((8, 8))
        img.flat[i] = 1.0
        conv = np.array([[[np.sum(img[y:y + 3, x:x + 3] * w[c, 0]) for x in range(6)] for y in range(6)]
                         for c in range(2)])
        pool = conv.reshape(2, 3, 2, 3, 2).sum(axis=(2, 4))
        ref[i] = Wl @ pool.reshape(-1)
    np.testing.assert_allclose(M, ref, rtol=1e-12, atol=1e-12)


def test_recurrent_graph_needs_a_delay_and_runs_with_one():
    W = np.array([[0.0, 1.2], [1.2, 0.0]])
    base = {"lin_in": nir.Linear(weight=np.eye(2) * 1.2), "h": lif(2), "rec": nir.Linear(weight=W)}
    out = {"out": nir.Output(output_type={"output": np.array([2])})}
    g = graph({**base, **out}, [("in", "lin_in"), ("lin_in", "h"), ("h", "rec"), ("rec", "h"), ("h", "out")], 2)
    with pytest.raises(ValueError, match="recurrent edge 'h' -> 'h' has no Delay"):
        from_nir(g)
    g = graph({**base, **out, "d": nir.Delay(delay=np.array([2e-3, 3e-3]))},
              [("in", "lin_in"), ("lin_in", "h"), ("h", "rec"), ("rec", "d"), ("d", "h"), ("h", "out")], 2)
    net = from_nir(g, {"in": (np.array([1e-3]), np.array([0]))})
    rec = [p for p in net.projections if p.pre.name == "h"][0]
    assert rec.csr.delays is not None and set(rec.csr.delays) == {2.0, 3.0}
    s = net.run(30.0).spikes
    # 0 fires at 1 ms; 0 -> 1 (delay 3 ms: post-side delay of neuron 1) and back (2 ms)
    assert np.array_equal(s.times[:3], [1.0, 4.0, 6.0]) and np.array_equal(s.ids[:3], [0, 1, 0])


def test_nested_graph_and_readout():
    inner = nir.NIRGraph(nodes={"i": nir.Input(input_type={"input": np.array([2])}),
                                "lin": nir.Linear(weight=np.array([[1.0, 2.0]])),
                                "ro": cuba(1, readout=True),
                                "o": nir.Output(output_type={"output": np.array([1])})},
                         edges=[("i", "lin"), ("lin", "ro"), ("ro", "o")])
    g = graph({"sub": inner, "out": nir.Output(output_type={"output": np.array([1])})},
              [("in", "sub"), ("sub", "out")], 2)
    net = from_nir(g, {"in": (np.array([1e-3, 2e-3]), np.array([0, 1]))})
    assert "sub.ro" in net.populations
    assert net._pops[0].model.v_th == READOUT_VTH
    net.record_state([0], dt=0.05)
    res = net.run(10.0)
    assert len(res.spikes) == 0 and res.states.v.max() > 0.0


# --------------------------------------------------------------------- round trips
def test_round_trip_graph_parameters():
    g = graph({"l1": nir.Linear(weight=np.array([[6.0, -0.25]])), "a": lif(1, tau=3e-3, r=7.0, v_leak=0.1),
               "l2": nir.Linear(weight=np.array([[1.5]])), "d": nir.Delay(delay=np.array([2e-3])),
               "b": cuba(1, 4e-4, 2e-3, r=3.0, w_in=0.7)},
              [("in", "l1"), ("l1", "a"), ("a", "l2"), ("l2", "d"), ("d", "b")], 2)
    net = from_nir(g)
    g2 = to_nir(net)
    net2 = from_nir(g2)
    for p, q in zip(net._pops, net2._pops):
        assert p.model == q.model
    for p, q in zip(net.projections, net2.projections):
        assert np.array_equal(p.weights, q.weights) and p.delay == q.delay
    x = (np.array([1e-3, 1.5e-3, 4e-3]), np.array([0, 1, 0]))
    vs = []
    for gg in (g, g2):
        n_ = from_nir(gg, {"in": x})
        n_.record_state([0, 1], dt=0.1)
        vs.append(n_.run(20.0).states)
    assert vs[0].v[:, 0].max() > 0.05 and vs[0].v[:, 1].max() > 0.0
    assert np.array_equal(vs[0].v, vs[1].v) and np.array_equal(vs[0].i_exc, vs[1].i_exc)
    # the graph's own parameters come back: neurons exactly, weights to rounding
    for k in ("a", "b"):
        for f in g.nodes[k].__dataclass_fields__:
            if f not in ("input_type", "output_type", "metadata"):
                assert np.array_equal(getattr(g2.nodes[k], f), getattr(g.nodes[k], f)), (k, f)
    lins = [n for n in g2.nodes.values() if type(n).__name__ == "Linear"]
    np.testing.assert_allclose(lins[0].weight, g.nodes["l1"].weight, rtol=1e-15)
    np.testing.assert_allclose(lins[1].weight, g.nodes["l2"].weight, rtol=1e-15)
    assert np.array_equal(g2.nodes[[n for n in g2.nodes if n.endswith(".delay")][0]].delay, [2e-3])


def test_round_trip_spikes_bitwise(tmp_path):
    net = ev.Network(seed=2)
    m1 = ev.LIF(tau_m=7.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.5, v_th=1.0, v_reset=0.0, t_ref=0.0)
    m2 = ev.LIF(tau_m=10.0, tau_syn_exc=2.5, tau_syn_inh=2.5, v_rest=0.0, v_th=1.0, v_reset=0.0, t_ref=0.0,
                tau_in=3.0)
    t_s = np.sort(np.random.default_rng(1).uniform(0, 0.05, 300))          # s, as the graph's inputs
    ids = np.random.default_rng(2).integers(0, 20, 300)
    src = net.spike_source(t_s * 1000.0, ids, n=20, name="in")
    a = net.population(30, m1, name="a", v_init=0.0)
    b = net.population(10, m2, name="b", v_init=0.0)
    net.connect(src, a, ev.fixed_indegree(5), weight=lambda g, n: g.uniform(0.1, 0.6, n), delay=0.0)
    net.connect(a, b, ev.fixed_probability(0.5), weight=lambda g, n: g.uniform(-0.2, 0.8, n), delay=1.25)
    net.connect(b, a, ev.fixed_indegree(3), weight=-0.3, delay=0.75)
    g = to_nir(net)
    nir.write(tmp_path / "net.nir", g)
    back = from_nir(tmp_path / "net.nir", {"in": (t_s, ids)})
    r1 = net.run(60.0)
    r2 = back.run(60.0)
    assert len(r1.spikes) > 50
    assert np.array_equal(r1.spikes.times, r2.spikes.times) and np.array_equal(r1.spikes.ids, r2.spikes.ids)


def test_round_trip_biases_and_per_channel_delays():
    rng = np.random.default_rng(7)
    net = ev.Network(seed=3)
    m1 = ev.LIF(tau_m=5.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=1.0, v_reset=0.0, t_ref=0.0)
    m2 = ev.LIF(tau_m=8.0, tau_syn_exc=2.0, tau_syn_inh=2.0, v_rest=0.0, v_th=1.0, v_reset=0.0, t_ref=0.0,
                tau_in=4.0)
    t_s = np.sort(rng.uniform(0, 0.04, 200))
    ids = rng.integers(0, 8, 200)
    src = net.spike_source(t_s * 1000.0, ids, n=8, name="in")
    a = net.population(12, m1, name="a", v_init=0.0, i_bias=rng.uniform(0.0, 0.9, 12))
    b = net.population(6, m2, name="b", v_init=0.0)
    net.connect(src, a, ev.fixed_probability(0.4), weight=lambda g, n: g.uniform(0.2, 0.7, n), delay=0.0)
    net.connect(src, b, ev.fixed_probability(0.3), weight=0.3, delay=0.0)
    # NIR's Linear holds one weight per pair: no multapses, rows sorted by target (as
    # eventsnn's rules build them), for a bitwise round trip
    pairs = np.unique(rng.integers(0, 12 * 6, 40))
    pre, post = pairs // 6, pairs % 6
    d_post = np.array([0.5, 1.0, 1.5, 2.0, 0.25, 0.75])
    net.connect(a, b, ev.from_lists(pre, post, rng.uniform(-0.3, 0.9, len(pre)), d_post[post], n_pre=12,
                                    n_post=6), delay=None)
    d_pre = rng.choice([0.3, 0.6, 1.2], 6)
    pairs = np.unique(rng.integers(0, 6 * 12, 20))
    p2, q2 = pairs // 12, pairs % 12
    net.connect(b, a, ev.from_lists(p2, q2, -0.4, d_pre[p2], n_pre=6, n_post=12), delay=None)
    g = to_nir(net)
    back = from_nir(g, {"in": (t_s, ids)}, seed=3)
    for p, q in zip(net._pops, back._pops):
        assert np.array_equal(p.i_bias, q.i_bias)
    r1, r2 = net.run(50.0), back.run(50.0)
    assert len(r1.spikes) > 30
    assert np.array_equal(r1.spikes.times, r2.spikes.times) and np.array_equal(r1.spikes.ids, r2.spikes.ids)
    with pytest.raises(ValueError, match="filtered by the synapse"):
        cb = ev.Network()
        cb.population(2, ev.LIF(tau_m=8.0, tau_syn_exc=2.0, tau_syn_inh=2.0, t_ref=0.0, v_rest=0.0, v_th=1.0,
                                v_reset=0.0, i_bias=0.1), v_init=0.0)
        to_nir(cb)
    # a CubaLIF bias that came from NIR goes back (with its t = 0 spike)
    gb = graph({"aff": nir.Affine(weight=np.full((3, 1), 0.4), bias=np.array([0.2, 0.5, 0.9])),
                "n": cuba(3, 5e-4, 2e-3, 1.0, vth=0.6)}, [("in", "aff"), ("aff", "n")], 1)
    x1 = from_nir(gb, {"in": (np.array([1e-3, 2e-3]), np.array([0, 0]))})
    x2 = from_nir(to_nir(x1), {"in": (np.array([1e-3, 2e-3]), np.array([0, 0]))})
    s1, s2 = x1.run(20.0).spikes, x2.run(20.0).spikes
    assert len(s1) > 3 and np.array_equal(s1.times, s2.times) and np.array_equal(s1.ids, s2.ids)
    bad = ev.Network()
    x = bad.population(2, m1, name="x", v_init=0.0)
    bad.connect(x, x, ev.from_lists([0, 0, 1], [0, 1, 1], 0.1, [0.5, 0.7, 0.9], n_pre=2, n_post=2), delay=None)
    with pytest.raises(ValueError, match="both neurons"):
        to_nir(bad)


# ------------------------------------------------------------------------ bad graphs
@pytest.mark.parametrize("make, words", [
    (lambda: graph({"lin": nir.Linear(weight=np.ones((2, 2))),
                    "n": nir.LIF(tau=np.array([1e-3, 2e-3]), r=np.ones(2), v_leak=np.zeros(2),
                                 v_threshold=np.ones(2))}, [("in", "lin"), ("lin", "n")], 2),
     ["'n'", "per-neuron"]),
    (lambda: graph({"aff": nir.Affine(weight=np.ones((2, 2)), bias=np.array([1.0, 2.0])),
                    "n": nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2))},
                   [("in", "aff"), ("aff", "n")], 2), ["'n'", "bias per neuron", "leaky"]),
    (lambda: graph({"t": nir.Threshold(threshold=np.ones(2))}, [("in", "t")], 2), ["'t'", "Threshold", "supported"]),
    (lambda: graph({"lin": nir.Linear(weight=np.ones((3, 5))), "n": lif(3)}, [("in", "lin"), ("lin", "n")], 2,
                   type_check=False),
     ["'lin'", "expects 5"]),
])
def test_bad_graphs_are_refused(make, words):
    with pytest.raises(ValueError) as e:
        from_nir(make())
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_nir_data_inputs():
    g = graph({"lin": nir.Linear(weight=np.eye(2) * 0.4), "n": lif(2, vth=50.0)}, [("in", "lin"), ("lin", "n")], 2)
    ev_in = nir.EventData(idx=np.array([[0, 1, 1, -1]]), time=np.array([[1e-4, 3e-4, 5e-4, np.inf]]),
                          n_neurons=2, t_max=1e-3)
    x = np.zeros((10, 2), np.int64)
    x[1, 0] = x[3, 1] = x[5, 1] = 1
    grid = nir.TimeGriddedData(data=x[None].astype(bool), dt=1e-4)
    runs = []
    for inp in (ev_in, grid, x, (np.array([1e-4, 3e-4, 5e-4]), np.array([0, 1, 1]))):
        net = from_nir(g, {"in": inp})
        net.record_state([0, 1], [0.2, 0.6, 0.9])
        runs.append(net.run(1.0).states.v)
    for r in runs[1:]:
        np.testing.assert_allclose(r, runs[0], rtol=1e-12, atol=1e-15)
    assert runs[0][-1, 1] > runs[0][-1, 0] > 0.0
    with pytest.raises(ValueError, match="one sample"):
        from_nir(g, {"in": nir.EventData(idx=np.zeros((2, 1), int), time=np.zeros((2, 1)), n_neurons=2, t_max=1.0)})


def test_per_neuron_thresholds_round_trip():
    f = lambda v: np.asarray(v, float)                  # noqa: E731
    n = nir.LIF(tau=f([1e-3] * 3), r=f([10.0] * 3), v_leak=f([0.0] * 3), v_threshold=f([0.5, 1.0, 2.0]),
                v_reset=f([0.0] * 3))
    g = graph({"lin": nir.Linear(weight=np.full((3, 1), 0.8)), "n": n}, [("in", "lin"), ("lin", "n")], 1)
    x = (np.array([1e-3, 1.05e-3, 1.1e-3]), np.array([0, 0, 0]))
    net = from_nir(g, {"in": x})
    assert net._pops[0].model.v_th == 0.5 and np.array_equal(net._pops[0].theta, [0.0, 0.5, 1.5])
    s = net.run(5.0).spikes
    # jumps of 0.8 at 1, 1.05, 1.1 ms (tau 1 ms): neuron 0 (threshold 0.5) fires at each,
    # 1 (1.0) at the second (0.8 e^-0.05 + 0.8 = 1.56), 2 (2.0) at the third (2.28)
    assert np.array_equal(s.times, [1.0, 1.05, 1.05, 1.1, 1.1]) and np.array_equal(s.ids, [0, 0, 1, 0, 2])
    g2 = to_nir(net)
    assert np.array_equal(g2.nodes["n"].v_threshold, [0.5, 1.0, 2.0])


def test_scalar_parameters_are_named():
    n = nir.LIF(tau=np.array(1e-3), r=np.array(10.0), v_leak=np.array(0.0), v_threshold=np.array(1.0))
    g = graph({"lin": nir.Linear(weight=np.ones((1, 1))), "n": n}, [("in", "lin"), ("lin", "n")], 1,
              type_check=False)
    with pytest.raises(ValueError, match="'n'.*0-d"):
        from_nir(g)


def test_bad_arguments():
    g = graph({"lin": nir.Linear(weight=np.ones((1, 1))), "n": lif(1)}, [("in", "lin"), ("lin", "n")], 1)
    with pytest.raises(ValueError, match="dt"):
        from_nir(g, dt=0.0)
    with pytest.raises(ValueError, match="'nope'"):
        from_nir(g, {"nope": np.zeros((3, 1))})
    with pytest.raises(ValueError, match="channels"):
        from_nir(g, {"in": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="integer spike counts"):
        from_nir(g, {"in": np.full((3, 1), 0.5)})
    with pytest.raises(TypeError, match="NIRGraph"):
        from_nir(42)
    net = ev.Network()
    net.population(2, ev.LIF(t_ref=2.0))
    with pytest.raises(ValueError, match="refractory"):
        to_nir(net)
