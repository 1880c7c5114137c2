"""Training API: determinism, thread-count independence, learning, weight bumping,
Adam, bad input."""
import math

import numba
import numpy as np
import pytest

from eventsnn.datasets import yin_yang
from eventsnn.encoding import latency
from eventsnn.gradients import (SNN, Adam, CountBounds, FirstSpikeCE, MaxVoltageCE, SpikeTimeMSE, evaluate, fit,
                                loss_and_grad, simulate)


def _yy(n, seed):
    X, y = yin_yang(n, seed)
    return latency(X, t_max=30.0, bias_time=0.0), y


def _net(seed=0, hidden=40, **kw):
    return SNN([5, hidden, 3], tau_m=20.0, tau_s=5.0, theta=1.0, t_end=100.0,
               init=[(1.5, 0.78), (0.93, 0.1)], seed=seed, **kw)


def test_fit_is_deterministic_and_thread_count_independent():
    inp, y = _yy(96, 3)
    n_threads = numba.get_num_threads()
    params = []
    hist = []
    try:
        for nt in (1, min(2, numba.config.NUMBA_NUM_THREADS), 1):
            numba.set_num_threads(nt)
            net = _net(seed=1)
            h = fit(net, inp, y, FirstSpikeCE(), epochs=2, batch_size=16, seed=4, bump=1e-3)
            params.append(net.params.copy())
            hist.append([(m["loss"], m["accuracy"], m["silent"], m["spikes_per_sample"]) for m in h])
    finally:
        numba.set_num_threads(n_threads)
    assert not np.array_equal(params[0], _net(seed=1).params)     # it trained
    for p, h in zip(params[1:], hist[1:]):
        np.testing.assert_array_equal(p, params[0])
        assert h == hist[0]


def test_batch_gradient_is_mean_of_sample_gradients():
    inp, y = _yy(8, 5)
    net = _net(seed=2)
    full = loss_and_grad(net, inp, y, FirstSpikeCE())
    parts = [loss_and_grad(net, inp, y, FirstSpikeCE(), idx=[b]) for b in range(8)]
    np.testing.assert_allclose(full.grad, np.mean([p.grad for p in parts], axis=0), rtol=1e-12, atol=1e-15)
    assert full.loss == pytest.approx(np.mean([p.loss for p in parts]), rel=1e-13)
    # input gradients of a sample do not depend on the batch it is in
    for b in range(8):
        s = slice(inp.ptr[b], inp.ptr[b + 1])
        np.testing.assert_array_equal(full.input_grad[s], parts[b].input_grad[s])
    assert np.isnan(parts[0].input_grad[inp.ptr[1]:]).all()
    assert full.spike_counts.shape == (8, net.n_neurons)
    tr = simulate(net, inp, 3)
    assert (tr.neurons >= 0).sum() == full.spike_counts[3].sum()


def test_fit_learns_yin_yang_subset():
    inp, y = _yy(600, 11)
    tin, ty = _yy(300, 12)
    net = _net(seed=3, hidden=60)
    before = evaluate(net, tin, ty).accuracy
    h = fit(net, inp, y, FirstSpikeCE(), epochs=6, batch_size=32, optimizer=Adam(5e-3, decay=0.95), seed=0,
            bump=5e-3, test=(tin, ty))
    assert h[-1]["test_accuracy"] > max(before + 0.2, 0.75)
    assert h[-1]["test_accuracy"] == evaluate(net, tin, ty).accuracy
    m = h[-1]
    assert set(m) >= {"loss", "accuracy", "silent", "silent_label", "spikes_per_sample", "epoch_s", "counts",
                      "lr", "test_loss", "test_accuracy"}
    assert 0.0 <= m["silent"] <= 1.0 and m["spikes_per_sample"] > 0
    assert m["lr"] == pytest.approx(5e-3 * 0.95 ** 6)
    c = m["counts"]
    assert c["adjoint_updates"] > 0 and c["jumps"] == c["spikes"] and c["syn_events"] > 0


def test_weight_bumping_of_silent_neurons():
    inp, y = _yy(40, 1)
    net = SNN([5, 6, 3], t_end=100.0, init=[(0.0, 0.0), (0.0, 0.0)])   # nobody fires
    h = fit(net, inp, y, FirstSpikeCE(), epochs=1, batch_size=10, bump=1e-4)
    # every hidden neuron is dead for the epoch -> +1 bump on each input weight;
    # outputs: +1 bump (dead); the silent-label bump only raises weights from hidden
    # neurons that fired in the sample, and none did
    np.testing.assert_allclose(net.weights[0], 1e-4, rtol=1e-12)
    np.testing.assert_allclose(net.weights[1], 1e-4, rtol=1e-12)
    assert h[0]["bumped"] == 6 + 3 + 40
    # with a direct input -> output network the silent label's weights from the inputs
    # that fired (all, latency code) get one bump per such sample
    net1 = SNN([5, 3], t_end=100.0, init=[(0.0, 0.0)])
    fit(net1, inp, y, FirstSpikeCE(), epochs=1, batch_size=10, bump=1e-4)
    k = np.bincount(y, minlength=3)
    np.testing.assert_allclose(net1.weights[0], np.broadcast_to(1e-4 + 1e-4 * k, (5, 3)), rtol=1e-12)
    # bump_batch: neurons silent in a whole batch, after every batch (4 batches)
    net3 = SNN([5, 6, 3], t_end=100.0, init=[(0.0, 0.0), (0.0, 0.0)])
    fit(net3, inp, y, FirstSpikeCE(), epochs=1, batch_size=10, bump_batch=1e-5)
    np.testing.assert_allclose(net3.weights[0], 4e-5, rtol=1e-12)
    assert h[0]["silent"] == 1.0 and h[0]["silent_label"] == 1.0 and h[0]["spikes_per_sample"] == 0.0
    # without bumping, all-zero gradients leave the weights alone
    net2 = SNN([5, 6, 3], t_end=100.0, init=[(0.0, 0.0), (0.0, 0.0)])
    fit(net2, inp, y, FirstSpikeCE(), epochs=1, batch_size=10)
    assert (net2.params == 0.0).all()


def test_voltage_readout_and_other_losses_train():
    inp, y = _yy(200, 2)
    net = SNN([5, 40, 3], t_end=60.0, output="voltage", init=[(1.5, 0.78), (0.0, 0.3)], seed=1)
    before = evaluate(net, inp, y, MaxVoltageCE()).loss
    fit(net, inp, y, MaxVoltageCE(), epochs=3, batch_size=20)
    assert evaluate(net, inp, y, MaxVoltageCE()).loss < before
    net = _net(seed=4)
    loss = SpikeTimeMSE(t_correct=10.0, t_wrong=25.0, scale=5.0)
    before = evaluate(net, inp, y, loss, regularizer=CountBounds(1e-3, 0, 4)).loss
    fit(net, inp, y, loss, epochs=3, batch_size=20, regularizer=CountBounds(1e-3, 0, 4))
    assert evaluate(net, inp, y, loss, regularizer=CountBounds(1e-3, 0, 4)).loss < before


def test_adam_matches_hand_computation():
    p = np.array([1.0, -2.0])
    opt = Adam(lr=0.1, betas=(0.9, 0.99), eps=1e-8, decay=0.5)
    g1 = np.array([0.5, -1.0])
    g2 = np.array([0.1, 0.3])
    opt.step(p, g1)
    # first step: m_hat = g, v_hat = g^2 -> step lr * sign(g)
    np.testing.assert_allclose(p, [1.0 - 0.1, -2.0 + 0.1], rtol=1e-7)
    opt.step(p, g2)
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.99 * 0.01 * g1 ** 2 + 0.01 * g2 ** 2
    mh = m / (1 - 0.9 ** 2)
    vh = v / (1 - 0.99 ** 2)
    p1 = np.array([1.0, -2.0]) - 0.1 * g1 / (np.abs(g1) + 1e-8)
    np.testing.assert_allclose(p, p1 - 0.1 * mh / (np.sqrt(vh) + 1e-8), rtol=1e-12)
    opt.end_epoch()
    assert opt.lr == 0.05
    # decoupled weight decay: with zero gradient, p <- p (1 - lr wd)
    q = np.array([2.0, -4.0])
    Adam(lr=0.1, weight_decay=0.5).step(q, np.zeros(2))
    np.testing.assert_array_equal(q, [2.0 * 0.95, -4.0 * 0.95])


def test_recurrent_network_trains_and_counts():
    inp, y = _yy(64, 9)
    net = SNN([5, 40, 3], t_end=100.0, init=[(1.5, 0.78), (0.0, 0.2), (0.93, 0.1)], seed=5, recurrent=True,
              rec_delay=1.0)
    assert [p.recurrent for p in net.projections] == [False, True, False]
    r = loss_and_grad(net, inp, y)
    assert r.grads[1].shape == (40, 40) and np.any(r.grads[1] != 0)


def test_bad_input():
    inp, y = _yy(10, 1)
    net = _net()
    with pytest.raises(TypeError, match="inputs"):
        loss_and_grad(net, "spikes", y)
    with pytest.raises(ValueError, match="labels contains 3"):
        loss_and_grad(net, inp, np.full(10, 3))
    with pytest.raises(ValueError, match="labels has shape"):
        loss_and_grad(net, inp, y[:5])
    with pytest.raises(ValueError, match="n_inputs"):
        loss_and_grad(SNN([4, 3, 3]), inp, y)
    with pytest.raises(ValueError, match="reads out 'voltage'"):
        loss_and_grad(net, inp, y, MaxVoltageCE())
    with pytest.raises(ValueError, match="idx"):
        loss_and_grad(net, inp, y, idx=[10])
    with pytest.raises(ValueError, match="graze"):
        loss_and_grad(net, inp, y, graze=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        fit(net, inp, y, batch_size=0)
    with pytest.raises(ValueError, match="epochs"):
        fit(net, inp, y, epochs=-1)
    with pytest.raises(TypeError, match="optimizer"):
        fit(net, inp, y, optimizer="adam")
    with pytest.raises(ValueError, match="sizes"):
        SNN([5])
    with pytest.raises(ValueError, match="tau_m"):
        SNN([5, 3], tau_m=0.0)
    with pytest.raises(ValueError, match="output"):
        SNN([5, 3], output="rate")
    with pytest.raises(ValueError, match="rec_delay"):
        SNN([5, 3, 3], recurrent=True, rec_delay=0.0)
    with pytest.raises(ValueError, match="delay"):
        SNN([5, 3], delay=-1.0)
    with pytest.raises(ValueError, match="init"):
        SNN([5, 3], init=[(0.0, 1.0), (0.0, 1.0)])
    with pytest.raises(ValueError, match="lr"):
        Adam(lr=0.0)
    with pytest.raises(ValueError, match="decay"):
        Adam(decay=1.5)
    before = net.params.copy()
    with pytest.raises(ValueError, match="p has shape"):
        net.set_params(np.zeros(3))
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.slow
def test_yin_yang_reaches_target():
    """The full examples/yinyang.py recipe on one seed (minutes)."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "yinyang.py"
    spec = importlib.util.spec_from_file_location("yinyang_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.train(seed=0, verbose=False)
    assert res["test_accuracy"] >= 0.975
    assert math.isfinite(res["epoch_s"])
