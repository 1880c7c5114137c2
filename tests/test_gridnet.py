"""Surrogate-gradient BPTT on the grid (issue: "Surrogate-gradient training beside exact
gradients"): the grid network's structure, its forward pass against the clock engine,
determinism, validation, and export to the exact engine.  The gradients against a
pure-NumPy reference are in test_bptt.py."""
import numba
import numpy as np
import pytest

from eventsnn.connectivity import avg_pool2d, conv2d
from eventsnn.datasets import yin_yang
from eventsnn.encoding import SpikeInput, latency
from eventsnn.engine.clock import run_clock
from eventsnn.gradients import (
    SNN,
    Adam,
    Conv2d,
    CountCE,
    Dense,
    FirstSpikeCE,
    GridSNN,
    MaxVoltageCE,
    Surrogate,
    bptt,
    simulate,
)


def _inputs(rng, B, n, t_max, k=(15, 25)):
    ptr, t, ids = [0], [], []
    for _ in range(B):
        m = int(rng.integers(*k))
        t += list(rng.uniform(0.0, t_max, m))
        ids += list(rng.integers(0, n, m))
        ptr.append(len(t))
    return SpikeInput(np.array(ptr), np.array(t), np.array(ids), n)


def _dense_of(P, n_pre, n_post, params):
    W = np.zeros((n_pre, n_post))
    pre = np.repeat(np.arange(n_pre), np.diff(P.ptr))
    np.add.at(W, (pre, P.post), P.coef * params[P.widx])
    return W


def _csr_dense(csr, n_pre, n_post):
    W = np.zeros((n_pre, n_post))
    pre = np.repeat(np.arange(n_pre), np.diff(csr.indptr))
    np.add.at(W, (pre, csr.indices), np.broadcast_to(csr.weights, csr.indices.shape))
    return W


# ------------------------------------------------------------------ structure
@pytest.mark.parametrize("shape,layer", [((1, 6, 6), Conv2d(3, 3, padding=1, pool=2)),
                                         ((2, 7, 7), Conv2d(2, 3, stride=2, padding=0, pool=1)),
                                         ((2, 8, 8), Conv2d(4, 2, stride=1, padding=1, pool=3))])
def test_conv_projection_equals_conv2d_then_avg_pool(shape, layer):
    net = GridSNN(shape, [layer, Dense(2)], dt=0.5, t_end=5.0, seed=3)
    P = net.projections[0]
    got = _dense_of(P, net.sizes[0], net.sizes[1], net.params)
    conv, cshape = conv2d(shape, net.weights(0), stride=layer.stride, padding=layer.padding)
    Wc = _csr_dense(conv, net.sizes[0], int(np.prod(cshape)))
    if layer.pool > 1:
        pool, pshape = avg_pool2d(cshape, layer.pool)
        Wc = Wc @ _csr_dense(pool, int(np.prod(cshape)), int(np.prod(pshape)))
    np.testing.assert_allclose(got, Wc, rtol=1e-14, atol=1e-15)


def test_from_snn_shares_weights_and_layout():
    snn = SNN([5, 7, 3], recurrent=True, rec_delay=1.0, t_end=20.0, seed=4)
    g = GridSNN.from_snn(snn, dt=0.5)
    assert np.array_equal(g.params, snn.params)
    assert [P.recurrent for P in g.projections] == [p.recurrent for p in snn.projections]
    for q in range(len(snn.projections)):
        assert np.array_equal(g.weights(q), snn.weights[q])
    back = g.to_snn()
    assert np.array_equal(back.params, snn.params) and back.sizes == snn.sizes


def test_batchnorm_parameters_follow_the_weights():
    g = GridSNN((1, 6, 6), [Conv2d(3, 3, padding=1, pool=2), Dense(4), Dense(2)], dt=1.0, t_end=5.0,
                batchnorm="shared")
    assert g.bn_layers == [1, 2] and g.bn_channels == [3, 4]
    assert g.n_params == g.n_weights + 2 * 3 + 2 * 4
    assert np.all(g.params[g.bn_off[0]:g.bn_off[0] + 3] == 1.0)          # gamma
    assert np.all(g.params[g.bn_off[0] + 3:g.bn_off[0] + 6] == 0.0)      # beta


# ------------------------------------------------------------------ forward = clock engine
@pytest.mark.parametrize("seed", range(4))
def test_forward_equals_clock_engine(seed):
    """With whole-step delays (>= 1 step between neuron layers, as the clock engine
    rounds them), the grid forward pass and the clock engine give the same rasters."""
    rng = np.random.default_rng(seed)
    n, T, dt = 6, 20.0, 0.25
    inp = _inputs(rng, 1, n, 14.0, k=(30, 31))
    rec = bool(seed % 2)
    net = GridSNN(n, [Dense(8, recurrent=rec, rec_delay=0.5), Dense(4)], dt=dt, t_end=T, seed=seed,
                  delay=[0.0, 0.25 * (1 + seed % 3)], refractory=0.5 * (seed % 2))
    net.params[:] *= 3.0
    r = bptt.loss_and_grad(net, inp, np.array([0]), keep_spikes=True)
    t, ids = inp.sample(0)
    enet, pops = net.to_network(t, ids)
    res = run_clock(enet, T, dt)
    total = 0
    for l, p in enumerate(pops):
        s = res.spikes_of(p)
        k, j = np.nonzero(r.spikes[l + 1][0])
        o = np.lexsort((j, k))
        so = np.lexsort((s.ids, s.times))
        assert np.array_equal(np.rint(s.times[so] / dt).astype(np.int64), k[o])
        assert np.array_equal(s.ids[so], j[o])
        total += k.size
    assert total > 20


# ------------------------------------------------------------------ determinism
def _nets():
    yield GridSNN(4, [Dense(5), Dense(6, recurrent=True), Dense(3)], dt=0.5, t_end=10.0, seed=0,
                  refractory=1.0), FirstSpikeCE()
    yield GridSNN((1, 6, 6), [Conv2d(2, 3, padding=1, pool=2), Dense(3)], dt=0.5, t_end=10.0, output="voltage",
                  seed=0, delay=[0.5, 1.0]), MaxVoltageCE()
    yield GridSNN(4, [Dense(5), Dense(6), Dense(3)], dt=0.5, t_end=10.0, seed=0, reset="subtract"), CountCE()


@pytest.mark.parametrize("case", range(3))
def test_fused_and_layer_paths_and_thread_counts_agree_bitwise(case, monkeypatch):
    net, loss = list(_nets())[case]
    net.params[:] *= 4.0
    rng = np.random.default_rng(1)
    inp = _inputs(rng, 6, net.sizes[0], 7.0)
    lab = rng.integers(0, 3, 6)
    got = []
    n0 = numba.get_num_threads()
    try:
        for fused in (True, False):
            monkeypatch.setattr(bptt, "_FUSED", fused)
            for th in sorted({1, n0}):
                numba.set_num_threads(th)
                got.append(bptt.loss_and_grad(net, inp, lab, loss, surrogate=Surrogate("lee"), detach_reset=False))
    finally:
        numba.set_num_threads(n0)
    assert np.abs(got[0].grad).max() > 0
    for r in got[1:]:
        assert np.array_equal(r.grad, got[0].grad) and np.array_equal(r.losses, got[0].losses)
        assert np.array_equal(r.predictions, got[0].predictions)


def test_fit_is_deterministic_and_thread_independent():
    rng = np.random.default_rng(2)
    inp = _inputs(rng, 40, 4, 7.0)
    lab = rng.integers(0, 3, 40)
    res = []
    n0 = numba.get_num_threads()
    try:
        for th in sorted({1, n0}) + [n0]:
            numba.set_num_threads(th)
            net = GridSNN(4, [Dense(6), Dense(3)], dt=0.5, t_end=10.0, batchnorm="shared", seed=1)
            h = bptt.fit(net, inp, lab, FirstSpikeCE(), epochs=2, batch_size=8, optimizer=Adam(lr=1e-2), seed=3)
            res.append((net.params.copy(), net.running_mean[0].copy(), [m["loss"] for m in h]))
    finally:
        numba.set_num_threads(n0)
    for p, rm, lo in res[1:]:
        assert np.array_equal(p, res[0][0]) and np.array_equal(rm, res[0][1]) and lo == res[0][2]
    assert not np.array_equal(res[0][0], GridSNN(4, [Dense(6), Dense(3)], dt=0.5, t_end=10.0,
                                                 batchnorm="shared", seed=1).params)


# ------------------------------------------------------------------ exact smooth case
def test_exact_derivative_matches_finite_differences_of_the_grid_loss():
    """With the true derivative of H (0), the gradient is that of the piecewise smooth
    grid loss: the leaky read-out's weights (recurrent hidden layer, delays)."""
    rng = np.random.default_rng(5)
    net = GridSNN(4, [Dense(5), Dense(6, recurrent=True), Dense(3)], dt=0.5, t_end=10.0, output="voltage",
                  seed=0, delay=[0.0, 0.5, 1.0])
    net.params[:] *= 4.0
    inp = _inputs(rng, 4, 4, 7.0)
    lab = rng.integers(0, 3, 4)
    ex = Surrogate("exact")
    r = bptt.loss_and_grad(net, inp, lab, MaxVoltageCE(scale=2.0), surrogate=ex, keep_spikes=True)
    assert sum(int(s.sum()) for s in r.spikes[1:3]) > 50
    p0 = net.params.copy()
    h = 1e-6
    fd = np.zeros_like(p0)
    for i in range(p0.size):
        for sgn in (1, -1):
            net.params[i] = p0[i] + sgn * h
            fd[i] += sgn * bptt.loss_and_grad(net, inp, lab, MaxVoltageCE(scale=2.0), surrogate=ex).loss / (2 * h)
        net.params[i] = p0[i]
    ro = slice(net._woff[-2], net._woff[-1])
    assert np.count_nonzero(fd[ro]) >= 10
    np.testing.assert_allclose(r.grad, fd, rtol=1e-5, atol=1e-8)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("kw,match", [
    (dict(dt=0.0), "dt"), (dict(t_end=10.3), "t_end"), (dict(delay=0.3), "delay"),
    (dict(reset="soft"), "reset"), (dict(batchnorm="layer"), "batchnorm"), (dict(output="rate"), "output"),
    (dict(refractory=0.25), "refractory"), (dict(bn_momentum=1.5), "bn_momentum"),
    (dict(layers=[Dense(3, recurrent=True, rec_delay=0.0), Dense(2)]), "rec_delay"),
    (dict(layers=[Dense(3), Dense(2, recurrent=True)]), "read-out"),
    (dict(layers=[Conv2d(2, 3), Dense(2)]), "Conv2d"),
    (dict(input_shape=(1, 4, 4), layers=[Conv2d(2, 5), Dense(2)]), "does not fit"),
    (dict(input_shape=(1, 5, 5), layers=[Conv2d(2, 3, pool=2), Dense(2)]), "pool"),
    (dict(layers=["dense", Dense(2)]), "layers"), (dict(layers=[]), "layers"),
    (dict(init=[(0.0, -1.0), (0.0, 1.0)]), "init"),
])
def test_bad_network_arguments_are_refused(kw, match):
    args = dict(input_shape=4, layers=[Dense(3), Dense(2)], dt=0.5, t_end=10.0)
    args.update(kw)
    with pytest.raises((ValueError, TypeError), match=match):
        GridSNN(args.pop("input_shape"), args.pop("layers"), **args)


def test_bad_training_arguments_are_refused():
    net = GridSNN(4, [Dense(3), Dense(2)], dt=0.5, t_end=10.0)
    inp = _inputs(np.random.default_rng(0), 3, 4, 5.0)
    with pytest.raises(ValueError, match="kind"):
        Surrogate("relu")
    with pytest.raises(ValueError, match="slope"):
        Surrogate("arctan", 0.0)
    with pytest.raises(ValueError, match="labels"):
        bptt.loss_and_grad(net, inp, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reads out"):
        bptt.loss_and_grad(net, inp, np.array([0, 1, 1]), MaxVoltageCE())
    with pytest.raises(ValueError, match="n_inputs"):
        bptt.loss_and_grad(net, _inputs(np.random.default_rng(0), 3, 5, 5.0), np.array([0, 1, 1]))
    with pytest.raises(TypeError, match="surrogate"):
        bptt.loss_and_grad(net, inp, np.array([0, 1, 1]), surrogate="fast_sigmoid")
    many = SpikeInput(np.array([0, 300]), np.full(300, 1.0), np.zeros(300, np.int64), 4)
    with pytest.raises(ValueError, match="255"):
        bptt.loss_and_grad(net, many, np.array([0]))
    p = net.params.copy()
    with pytest.raises(TypeError, match="optimizer"):
        bptt.fit(net, inp, np.array([0, 1, 1]), optimizer="adam")
    assert np.array_equal(p, net.params)


# ------------------------------------------------------------------ export
def test_to_network_folds_batchnorm_into_weights_and_bias():
    net = GridSNN(3, [Dense(4), Dense(2)], dt=0.5, t_end=10.0, batchnorm="shared", seed=2, delay=[0.0, 0.5])
    j = 0
    o, c = net.bn_off[j], net.bn_channels[j]
    net.params[o:o + c] = [0.5, 1.0, 2.0, 1.5]
    net.params[o + c:o + 2 * c] = [0.1, -0.2, 0.0, 0.3]
    net.running_mean[j][0] = [0.2, 0.0, -0.1, 0.4]
    net.running_var[j][0] = [1.0, 4.0, 0.25, 2.0]
    a = net.params[o:o + c] / np.sqrt(net.running_var[j][0] + net.bn_eps)
    b = net.params[o + c:o + 2 * c] - a * net.running_mean[j][0]
    enet, pops = net.to_network(np.array([1.0]), np.array([0]))
    proj = enet._projs[0]
    W = _csr_dense(proj.csr, 3, 4)
    np.testing.assert_allclose(W, net.weights(0) * a[None, :], rtol=1e-15)
    np.testing.assert_allclose(pops[0].i_bias, b * net.tau_s[0] / net.dt, rtol=1e-15)
    with pytest.raises(ValueError, match="batchnorm='time'"):
        GridSNN(3, [Dense(4), Dense(2)], dt=0.5, t_end=10.0, batchnorm="time", delay=[0, 0.5]).to_network([1.0], [0])
    with pytest.raises(ValueError, match="zero_delay"):
        GridSNN(3, [Dense(4), Dense(2)], dt=0.5, t_end=10.0).to_network([1.0], [0])


def test_grid_spike_times_converge_to_the_exact_ones():
    """The grid network is the exact network sampled on the grid: the first spike
    time of every hidden neuron approaches the exact engine's as dt shrinks, the error
    staying within two steps (inputs and spikes move to the next grid point)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(6, 3))
    inp = latency(X, t_min=0.0, t_max=10.0, bias_time=0.0)
    snn = SNN([4, 20, 3], t_end=30.0, seed=1, init=[(1.5, 0.8), (0.9, 0.3)])
    errs = []
    for dt in (0.4, 0.1, 0.025):
        g = GridSNN.from_snn(snn, dt=dt)
        r = bptt.evaluate(g, inp, None, FirstSpikeCE())
        full = bptt.loss_and_grad(g, inp, np.zeros(6, np.int64), FirstSpikeCE(), keep_spikes=True)
        e = []
        for b in range(6):
            tr = simulate(snn, inp, b)
            for layer in (1, 2):
                for j in range(g.sizes[layer]):
                    gid = sum(g.sizes[1:layer]) + j
                    te = tr.times[tr.neurons == gid]
                    kg = np.nonzero(full.spikes[layer][b][:, j])[0]
                    if te.size and kg.size:
                        e.append(kg[0] * dt - te[0])
        e = np.array(e)
        assert e.size > 20 and r.spike_counts.sum() > 0
        # (inhibitory inputs moved later can make a grid spike early)
        assert np.all(np.abs(e) <= 2 * dt + 1e-9)
        errs.append(np.mean(np.abs(e)))
    assert errs[0] > errs[1] > errs[2]


def test_three_hidden_layers_train():
    """A 5-32-32-32-3 network with batch norm (shared over time) learns Yin-Yang: every
    hidden layer's weights move and accuracy rises far above the initial one."""
    X, y = yin_yang(400, seed=1)
    inp = latency(np.asarray(X)[:, :4], t_min=0.0, t_max=30.0, bias_time=0.0)
    y = np.asarray(y)
    net = GridSNN(5, [Dense(32), Dense(32), Dense(32), Dense(3)], dt=1.0, t_end=50.0, output="voltage",
                  batchnorm="shared", seed=2)
    p0 = net.params.copy()
    before = bptt.evaluate(net, inp, y, MaxVoltageCE()).accuracy
    bptt.fit(net, inp, y, MaxVoltageCE(), epochs=6, batch_size=16, optimizer=Adam(lr=5e-3), seed=1)
    after = bptt.evaluate(net, inp, y, MaxVoltageCE()).accuracy
    for q in range(4):
        assert not np.allclose(net.weights(q), p0[net._woff[q]:net._woff[q + 1]].reshape(net.param_shapes[q]))
    assert after >= 0.75 and after > before + 0.2


def test_clip_bounds_each_samples_gradient():
    rng = np.random.default_rng(3)
    net = GridSNN(4, [Dense(6), Dense(3)], dt=0.5, t_end=10.0, seed=1)
    net.params[:] *= 3.0
    inp = _inputs(rng, 5, 4, 7.0)
    lab = rng.integers(0, 3, 5)
    full = [bptt.loss_and_grad(net, inp, lab, CountCE(), idx=[b]).grad for b in range(5)]
    norms = np.array([np.linalg.norm(g) for g in full])
    c = float(np.median(norms))
    got = bptt.loss_and_grad(net, inp, lab, CountCE(), clip=c).grad
    want = sum(g * min(1.0, c / n) for g, n in zip(full, norms)) / 5
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="clip"):
        bptt.loss_and_grad(net, inp, lab, CountCE(), clip=0.0)


def test_to_snn_needs_one_recurrent_delay():
    g = GridSNN(3, [Dense(4, recurrent=True, rec_delay=1.0), Dense(4, recurrent=True, rec_delay=2.0), Dense(2)],
                dt=0.5, t_end=10.0)
    with pytest.raises(ValueError, match="one recurrent delay"):
        g.to_snn()
    g = GridSNN(3, [Dense(4, recurrent=True), Dense(2)], dt=0.5, t_end=10.0)
    assert g.to_snn().rec_delay == 0.5
