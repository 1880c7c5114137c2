"""The BPTT reference (tests/bptt_reference.py) against central finite differences of
its own loss.

* Surrogate "exact" (derivative 0): the gradient is the derivative of the piecewise
  smooth grid loss; on a leaky read-out with MaxVoltageCE it is checked parameter by
  parameter, skipping the (few) parameters whose +-eps step flips a spike or moves a
  voltage maximum to another step.
* A smooth spike (the reference's private ``_smooth`` hook: s = sigmoid(a (Vh -
  theta)) forward, its derivative backward, reset not detached) makes every backward
  path differentiable, so the whole chain (hidden layers, recurrence, delays, batch
  norm statistics, reset, the first-spike product, the count) is checked too.
"""
import math

import numpy as np
import pytest
from bptt_reference import (
    CountCE,
    first_spike_time,
    first_time_derivative_general,
    first_time_derivative_spec,
    make_inputs,
    make_net,
    reference_forward,
    reference_loss_and_grad,
    surrogate_derivative,
)

from eventsnn.encoding import SpikeInput
from eventsnn.gradients.gridnet import Conv2d, Dense, GridSNN
from eventsnn.gradients.losses import FirstSpikeCE, MaxVoltageCE

EPS = 1e-6


def _kmax(f):
    V = f["state"]["layers"][-1]["V"]
    return np.argmax(V[:, 1:], axis=1)


def fd_check(net, inputs, labels, loss, *, training=True, smooth=None, detach_reset=True, min_frac=0.9,
             rtol=1e-5, atol=1e-8):
    kw = {"_smooth": smooth} if smooth else {}
    r = reference_loss_and_grad(net, inputs, labels, loss, surrogate="exact", detach_reset=detach_reset,
                                training=training, **kw)
    base = reference_forward(net, inputs, labels, loss, training=training, **kw)
    assert r["loss"] == base["loss"]
    p0 = net.params.copy()
    checked = 0
    bad = []
    for p in range(p0.size):
        fs = []
        ok = True
        for sgn in (1.0, -1.0):
            q = p0.copy()
            q[p] += sgn * EPS
            f = reference_forward(net, inputs, labels, loss, training=training, params=q, **kw)
            if any(not np.array_equal(a, b) for a, b in zip(f["hard_spikes"], base["hard_spikes"])):
                ok = False
            if net.output == "voltage" and not np.array_equal(_kmax(f), _kmax(base)):
                ok = False
            fs.append(f["loss"])
        if not ok:
            continue
        checked += 1
        fd = (fs[0] - fs[1]) / (2 * EPS)
        if not abs(fd - r["grad"][p]) <= atol + rtol * abs(fd):
            bad.append((p, fd, r["grad"][p]))
    assert not bad, bad[:10]
    assert checked >= min_frac * p0.size, (checked, p0.size)
    return r, checked


def _spiked(r, net):
    """Every hidden layer spiked (several spikes per sample on average)."""
    for l in range(len(net.layers) - 1):
        assert r["spikes"][l][:, 1:].sum() >= 2 * r["spikes"][l].shape[0], l


# ---------------------------------------------------------------------------
# "exact" surrogate on leaky read-outs
# ---------------------------------------------------------------------------

EXACT_CASES = {
    "dense": {"input_shape": 4, "layers": [Dense(5), Dense(3)]},
    "dense2": {"input_shape": 4, "layers": [Dense(4), Dense(4), Dense(3)], "reset": "subtract"},
    "recurrent": {"input_shape": 4, "layers": [Dense(5, recurrent=True), Dense(3)]},
    "recurrent_delay": {"input_shape": 3, "layers": [Dense(4, recurrent=True, rec_delay=3.0), Dense(2)],
                        "delay": [2.0, 1.0], "refractory": 2.0},
    "conv_pool": {"input_shape": (1, 6, 6), "layers": [Conv2d(2, 3, padding=1, pool=2), Dense(3)]},
    "conv_stride": {"input_shape": (2, 5, 5), "layers": [Conv2d(2, 3, stride=2, padding=1), Dense(3)],
                    "reset": "subtract"},
    "bn_shared": {"input_shape": 4, "layers": [Dense(5), Dense(3)], "batchnorm": "shared"},
    "bn_time": {"input_shape": 4, "layers": [Dense(5), Dense(4), Dense(3)], "batchnorm": "time"},
    "bn_conv_shared": {"input_shape": (1, 6, 6), "layers": [Conv2d(2, 3, padding=1, pool=2), Dense(3)],
                       "batchnorm": "shared"},
    "bn_conv_time": {"input_shape": (1, 4, 4), "layers": [Conv2d(2, 3, padding=1), Dense(3)], "batchnorm": "time"},
}


@pytest.mark.parametrize("name", list(EXACT_CASES))
def test_exact_surrogate_fd_voltage(name):
    cfg = dict(EXACT_CASES[name])
    rng = np.random.default_rng(7)
    net = make_net(cfg.pop("input_shape"), cfg.pop("layers"), seed=3, output="voltage", **cfg)
    n_in = net.sizes[0]
    inputs = make_inputs(rng, 3, n_in, net.t_end)
    labels = rng.integers(0, net.sizes[-1], 3)
    r, _checked = fd_check(net, inputs, labels, MaxVoltageCE(scale=2.0))
    _spiked(r, net)
    # the read-out gets a real gradient
    q_out = len(net.param_shapes) - 1
    assert np.abs(r["grad"][net._woff[q_out]:net._woff[q_out + 1]]).max() > 1e-3


def test_exact_surrogate_eval_bn_fd():
    rng = np.random.default_rng(11)
    net = make_net(4, [Dense(5), Dense(4), Dense(3)], seed=5, output="voltage", batchnorm="time")
    for j in range(len(net.bn_channels)):
        net.running_mean[j][...] = rng.normal(0.1, 0.1, net.running_mean[j].shape)
        net.running_var[j][...] = rng.uniform(0.2, 1.0, net.running_var[j].shape)
    inputs = make_inputs(rng, 2, 4, net.t_end)
    r, _ = fd_check(net, inputs, np.array([0, 2]), MaxVoltageCE(), training=False)
    _spiked(r, net)


# ---------------------------------------------------------------------------
# smooth spikes: every backward path
# ---------------------------------------------------------------------------

SMOOTH_CASES = {
    "dense_count": ({"input_shape": 4, "layers": [Dense(5), Dense(4), Dense(3)]}, "count"),
    "dense_first": ({"input_shape": 4, "layers": [Dense(5), Dense(3)], "reset": "subtract"}, "first"),
    "rec_first": ({"input_shape": 3, "layers": [Dense(4, recurrent=True, rec_delay=2.0), Dense(3)],
                   "delay": [1.0, 2.0], "refractory": 2.0}, "first"),
    "rec_voltage": ({"input_shape": 3, "layers": [Dense(4, recurrent=True), Dense(3)], "output": "voltage"}, "vmax"),
    "conv_count": ({"input_shape": (1, 6, 6), "layers": [Conv2d(2, 3, padding=1, pool=2), Dense(3)],
                    "reset": "subtract"}, "count"),
    "bn_shared_count": ({"input_shape": 4, "layers": [Dense(5), Dense(4), Dense(3)], "batchnorm": "shared"}, "count"),
    "bn_time_first": ({"input_shape": 4, "layers": [Dense(5), Dense(3)], "batchnorm": "time", "delay": [0.0, 1.0]},
                      "first"),
    "bn_conv_time_vmax": ({"input_shape": (1, 4, 4), "layers": [Conv2d(2, 3, padding=1), Dense(3)],
                           "batchnorm": "time", "output": "voltage"}, "vmax"),
    "bn_conv_shared_count": ({"input_shape": (2, 5, 5), "layers": [Conv2d(2, 3, stride=2, padding=1), Dense(3)],
                              "batchnorm": "shared", "refractory": 1.0}, "count"),
}
LOSSES = {"count": CountCE(scale=0.5), "first": FirstSpikeCE(tau0=2.0, tau1=20.0, alpha=0.01),
          "vmax": MaxVoltageCE(scale=2.0)}


@pytest.mark.parametrize("name", list(SMOOTH_CASES))
def test_smooth_spike_fd(name):
    cfg, lk = SMOOTH_CASES[name]
    cfg = dict(cfg)
    rng = np.random.default_rng(21)
    net = make_net(cfg.pop("input_shape"), cfg.pop("layers"), seed=4, t_end=20.0, **cfg)
    inputs = make_inputs(rng, 3, net.sizes[0], net.t_end)
    labels = rng.integers(0, net.sizes[-1], 3)
    r, _checked = fd_check(net, inputs, labels, LOSSES[lk], smooth=4.0, detach_reset=False, rtol=1e-5,
                           atol=1e-9)
    # the hidden layers get gradients (not only the read-out)
    assert np.abs(r["grad"][:net._woff[1]]).max() > 1e-4


# ---------------------------------------------------------------------------
# pieces
# ---------------------------------------------------------------------------

def test_first_time_derivative_forms_agree():
    rng = np.random.default_rng(0)
    dt, K = 0.5, 12
    for _ in range(200):
        s = (rng.random(K + 1) < rng.uniform(0.0, 0.4)).astype(float)
        s[0] = 0.0
        d1 = first_time_derivative_spec(s, dt, K * dt)
        d2 = first_time_derivative_general(s, dt, K * dt)
        np.testing.assert_array_equal(d1, d2)
        ks = np.flatnonzero(s)
        assert first_spike_time(s, dt, K * dt) == (ks[0] * dt if ks.size else K * dt)
    # and the general form is the derivative of the product formula
    s = rng.uniform(0.0, 1.0, K + 1)
    d = first_time_derivative_general(s, dt, K * dt)
    for m in range(1, K + 1):
        a, b = s.copy(), s.copy()
        a[m] += 1e-6
        b[m] -= 1e-6
        fd = (first_spike_time(a, dt, K * dt) - first_spike_time(b, dt, K * dt)) / 2e-6
        assert fd == pytest.approx(d[m], rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("kind,area", [("fast_sigmoid", None), ("arctan", 1.0), ("boxcar", 1.0),
                                       ("triangle", 1.0), ("lee", None)])
def test_surrogate_shapes(kind, area):
    slope = 5.0
    x = np.linspace(-3, 3, 600001)
    y = np.array([surrogate_derivative(kind, v, slope, theta=1.5, lee_eps=-0.25) for v in x[::50]])
    assert (y >= 0).all()
    if area is not None:
        yy = np.array([surrogate_derivative(kind, v, slope) for v in x])
        tot = np.trapezoid(yy, x) if hasattr(np, "trapezoid") else np.trapz(yy, x)
        tail = 0.0 if kind != "arctan" else 1.0 - 2.0 / math.pi * math.atan(math.pi / 2 * slope * 3)
        assert tot == pytest.approx(area - tail, abs=2e-4)
    assert surrogate_derivative("fast_sigmoid", 0.0, slope) == 1.0
    assert surrogate_derivative("lee", 1.4, slope, theta=1.5, lee_eps=-0.25) == pytest.approx(0.75 / 1.5)
    assert surrogate_derivative("lee", 1.6, slope, theta=1.5, lee_eps=-0.25) == 0.0
    assert surrogate_derivative("exact", 0.0, slope) == 0.0


def test_input_binning_and_forward_by_hand():
    """One neuron, one input: the update of the gridnet docstring by hand, including
    spike binning (t = 0 -> step 1, t = k dt -> step k, two spikes in one step add,
    t > t_end dropped), refractory hold and zero reset."""
    net = GridSNN(1, [Dense(1)], dt=0.5, t_end=5.0, tau_m=10.0, tau_s=5.0, theta=1.0, refractory=1.0,
                  init=None)
    net.params[:] = [8.0]
    inp = SpikeInput(np.array([0, 5]), np.array([0.0, 1.0, 1.2, 1.4, 5.2]), np.array([0, 0, 0, 0, 0], np.int32),
                     1)
    f = reference_forward(net, inp, np.array([0]), CountCE(1.0))
    st = f["state"]
    np.testing.assert_array_equal(st["S"][0][0, :, 0], [0, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0])
    a, b, c = math.exp(-0.5 / 5), math.exp(-0.5 / 10), 5.0 / (5.0 - 10.0) * (math.exp(-0.5 / 5) - math.exp(-0.05))
    V = I = 0.0
    ref = 0
    x = [0, 8, 8, 16, 0, 0, 0, 0, 0, 0, 0]
    spikes = []
    for k in range(1, 11):
        if k <= ref:
            Vh = V
            s = 0
        else:
            Vh = b * V + c * I
            s = int(Vh >= 1.0)
        if s:
            ref = k + 2
        V = Vh * (1 - s)
        I = a * I + x[k]
        spikes.append(s)
        assert st["layers"][0]["V"][0, k, 0] == pytest.approx(V, abs=1e-14)
    assert sum(spikes) >= 2
    np.testing.assert_array_equal(f["spikes"][0][0, 1:, 0], spikes)
