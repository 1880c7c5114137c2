"""The BPTT kernels (eventsnn.gradients.bptt.loss_and_grad) against the slow pure-NumPy
reference of tests/bptt_reference.py: per-sample losses, predictions, correctness,
spike rasters and the full gradient (rel 1e-9, abs 1e-12), over a grid of
architectures (dense 2-3 hidden layers, recurrent with delays, convolution with
stride, padding and pooling), resets, refractory periods, detach_reset, batch norm,
surrogates and losses."""
import numpy as np
import pytest
from bptt_reference import SURROGATES, make_inputs, make_net, reference_loss_and_grad

from eventsnn.encoding import SpikeInput
from eventsnn.gradients.bptt import CountCE, Surrogate, loss_and_grad
from eventsnn.gradients.gridnet import Conv2d, Dense, GridSNN
from eventsnn.gradients.losses import FirstSpikeCE, MaxVoltageCE

B = 4

#: name -> (input shape, layers, extra GridSNN keywords)
ARCHS = {
    "dense2": (5, [Dense(6), Dense(5), Dense(3)], {"delay": [1.0, 0.0, 2.0]}),
    "dense3": (4, [Dense(5), Dense(5), Dense(4), Dense(3)], {"delay": [0.0, 1.0, 0.0, 1.0]}),
    "recurrent": (4, [Dense(6, recurrent=True), Dense(3)], {}),
    "recurrent2": (4, [Dense(5, recurrent=True, rec_delay=3.0), Dense(4, recurrent=True), Dense(3)],
                   {"delay": [1.0, 2.0, 0.0]}),
    "conv_pool": ((1, 6, 6), [Conv2d(2, 3, padding=1, pool=2), Dense(3)], {"delay": [0.0, 1.0]}),
    "conv_stride": ((2, 5, 5), [Conv2d(3, 3, stride=2, padding=1), Dense(4), Dense(3)], {}),
    # dt = 0.5 ms, delays of 1 and 2 steps, tau_s == tau_m in the second layer
    "conv2_dt": ((1, 6, 6), [Conv2d(2, 3, pool=2), Conv2d(2, 2, padding=1), Dense(3)],
                 {"dt": 0.5, "t_end": 15.0, "delay": [0.5, 1.0, 0.0], "tau_m": [10.0, 5.0, 10.0],
                  "tau_s": [5.0, 5.0, 2.5]}),
}
LOSSES = {"count": CountCE(scale=0.5), "first": FirstSpikeCE(tau0=2.0, tau1=20.0, alpha=0.01),
          "vmax": MaxVoltageCE(scale=2.0)}
#: slopes (1/mV) wide enough that the surrogates see many steps
SLOPES = {"fast_sigmoid": 5.0, "arctan": 2.0, "boxcar": 1.0, "triangle": 1.0, "lee": 1.0, "exact": 1.0}
BNS = (None, "shared", "time")


def build(arch, *, loss, reset, refractory, batchnorm, seed):
    shape, layers, kw = ARCHS[arch]
    kw = dict(kw)
    out = "voltage" if loss == "vmax" else "spike"
    if refractory:
        kw["refractory"] = refractory * kw.get("dt", 1.0)
    net = make_net(shape, layers, seed=seed, output=out, reset=reset, batchnorm=batchnorm, fan_in=6.0, **kw)
    rng = np.random.default_rng(100 + seed)
    inputs = make_inputs(rng, B, net.sizes[0], net.t_end, rate=0.3)
    labels = rng.integers(0, net.sizes[-1], B)
    return net, inputs, labels


def compare(net, inputs, labels, loss, surrogate, detach_reset, training=True, min_hidden_spikes=2):
    slope = SLOPES[surrogate]
    ref = reference_loss_and_grad(net, inputs, labels, loss, surrogate=surrogate, slope=slope,
                                  detach_reset=detach_reset, training=training)
    got = loss_and_grad(net, inputs, labels, loss, surrogate=Surrogate(surrogate, slope), detach_reset=detach_reset,
                        training=training, keep_spikes=True)
    L = len(net.layers)
    # hidden layers spiked (several spikes per sample)
    nb = len(labels)
    for l in range(L - 1):
        assert ref["spikes"][l][:, 1:].sum() >= min_hidden_spikes * nb, f"hidden layer {l + 1} nearly silent"
    # the kernels' rasters list the input first
    assert len(got.spikes) == L + 1
    for l in range(L):
        np.testing.assert_array_equal(got.spikes[l + 1], ref["spikes"][l], err_msg=f"spikes of layer {l + 1}")
    # (a cross-entropy near 0 is a difference of logits: absolute error ~ 1e-16 |logit|)
    np.testing.assert_allclose(got.losses, ref["losses"], rtol=1e-12, atol=1e-13)
    assert got.loss == pytest.approx(ref["loss"], rel=1e-12, abs=1e-13)
    np.testing.assert_array_equal(got.predictions, ref["predictions"])
    np.testing.assert_array_equal(got.correct, ref["correct"])
    np.testing.assert_allclose(got.grad, ref["grad"], rtol=1e-9, atol=1e-12)
    return ref, got


# ---------------------------------------------------------------------------
# every surrogate x every loss x detach_reset (architecture, reset, refractory and
# batch norm cycle with the case number)
# ---------------------------------------------------------------------------

GRID_A = [(s, lo, d) for s in SURROGATES for lo in LOSSES for d in (True, False)]


@pytest.mark.parametrize("case", range(len(GRID_A)),
                         ids=[f"{s}-{lo}-{'detach' if d else 'attach'}" for s, lo, d in GRID_A])
def test_surrogates_losses(case):
    sur, lo, det = GRID_A[case]
    arch = list(ARCHS)[case % len(ARCHS)]
    net, inputs, labels = build(arch, loss=lo, reset=("zero", "subtract")[case % 2],
                                refractory=(0, 2)[(case // 2) % 2], batchnorm=BNS[(case + case // 6) % 3], seed=case)
    ref, _ = compare(net, inputs, labels, LOSSES[lo], sur, det)
    if sur != "exact":
        # the surrogate reaches the first layer's weights
        assert np.abs(ref["grad"][:net._woff[1]]).max() > 0.0


# ---------------------------------------------------------------------------
# every architecture x batch norm x reset x refractory (surrogate, loss and
# detach_reset cycle with the case number)
# ---------------------------------------------------------------------------

GRID_B = [(a, bn, r, R) for a in ARCHS for bn in BNS for r in ("zero", "subtract") for R in (0, 2)]


@pytest.mark.parametrize("case", range(len(GRID_B)),
                         ids=[f"{a}-bn{bn}-{r}-ref{R}" for a, bn, r, R in GRID_B])
def test_architectures(case):
    arch, bn, reset, R = GRID_B[case]
    sur = SURROGATES[case % len(SURROGATES)]
    lo = list(LOSSES)[case % 3]
    net, inputs, labels = build(arch, loss=lo, reset=reset, refractory=R, batchnorm=bn, seed=1000 + case)
    compare(net, inputs, labels, LOSSES[lo], sur, detach_reset=(case // 3) % 2 == 0)


@pytest.mark.parametrize("bn", ["shared", "time"])
@pytest.mark.parametrize("lo", list(LOSSES))
def test_batchnorm_eval_mode(bn, lo):
    """training=False: the running estimates (set to something nontrivial)."""
    net, inputs, labels = build("conv_stride" if bn == "shared" else "dense2", loss=lo, reset="zero",
                                refractory=0, batchnorm=bn, seed=7)
    rng = np.random.default_rng(8)
    for j in range(len(net.bn_channels)):
        net.running_mean[j][...] = rng.normal(0.3, 0.2, net.running_mean[j].shape)
        net.running_var[j][...] = rng.uniform(0.3, 2.0, net.running_var[j].shape)
    compare(net, inputs, labels, LOSSES[lo], "fast_sigmoid", True, training=False)


def test_batchnorm_silent_sample():
    """A minibatch where one sample's loss gradient stops early (a silent input):
    with batch statistics every sample's feed-forward input still gets a gradient at
    every step."""
    net = make_net(3, [Dense(2), Dense(2)], seed=1, output="voltage", batchnorm="shared", t_end=10.0)
    inputs = make_inputs(np.random.default_rng(0), 2, 3, net.t_end)
    ref, _ = compare(net, inputs, np.array([0, 1]), MaxVoltageCE(1.0), "fast_sigmoid", True, min_hidden_spikes=0)
    assert ref["spikes"][0][:, 1:].sum() >= 1


def test_first_spike_prediction_at_last_step():
    """Output 1 fires at step K only (grid time t_end, the same as silent output 0):
    it is the prediction (losses.py: the earliest spiking output; -1 only when all
    outputs are silent), and correct when it is the label."""
    net = GridSNN(1, [Dense(2)], dt=1.0, t_end=5.0, tau_m=10.0, tau_s=5.0, theta=1.0, init=None)
    net.params[:] = [0.0, 5.0]
    inputs = SpikeInput(np.array([0, 1]), np.array([0.0]), np.array([0], np.int32), 1)
    for label in (0, 1):
        ref = reference_loss_and_grad(net, inputs, np.array([label]), FirstSpikeCE())
        assert np.flatnonzero(ref["spikes"][0][0, :, 1]).tolist() == [5]
        assert not ref["spikes"][0][0, :, 0].any()
        assert ref["predictions"].tolist() == [1]
        assert ref["correct"].tolist() == [label == 1]
        got = loss_and_grad(net, inputs, np.array([label]), FirstSpikeCE())
        assert got.predictions.tolist() == [1]
        assert got.correct.tolist() == [label == 1]
        assert got.loss == pytest.approx(ref["loss"], rel=1e-13)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_reference_weights_match_gridnet(arch):
    """The reference's dense matrices, rebuilt from params by explicit loops, are the
    gridnet projections' (read here, never in the reference), delays included."""
    import bptt_reference as R
    shape, layers, kw = ARCHS[arch]
    net = make_net(shape, layers, seed=3, **kw)
    projs = R.build_projections(net, net.params)
    for P in net.projections:
        W = np.zeros((net.sizes[P.pre], net.sizes[P.post_layer]))
        for i in range(P.ptr.size - 1):
            for e in range(P.ptr[i], P.ptr[i + 1]):
                W[i, P.post[e]] += P.coef[e] * net.params[P.widx[e]]
        pr = projs[P.post_layer - 1]
        if P.recurrent:
            pr = pr["rec"]
        np.testing.assert_allclose(pr["W"], W, rtol=1e-14, atol=1e-15)
        assert pr["D"] == P.delay


@pytest.mark.parametrize("bn", [None, "shared"])
def test_idx_and_buffer_reuse(bn):
    """A minibatch picked with idx after a larger one on the same net (the kernels keep
    buffers between calls): the same as the reference on those samples alone."""
    net, _, _ = build("recurrent2", loss="first", reset="zero", refractory=2, batchnorm=bn, seed=5)
    rng = np.random.default_rng(6)
    inputs = make_inputs(rng, 6, net.sizes[0], net.t_end, rate=0.3)
    labels = rng.integers(0, 3, 6)
    loss = LOSSES["first"]
    loss_and_grad(net, inputs, labels, loss, surrogate=Surrogate("arctan", 2.0))
    idx = np.array([4, 1])
    got = loss_and_grad(net, inputs, labels, loss, idx=idx, surrogate=Surrogate("arctan", 2.0), keep_spikes=True)
    ref = reference_loss_and_grad(net, inputs.subset(idx), labels[idx], loss, surrogate="arctan", slope=2.0)
    np.testing.assert_allclose(got.losses, ref["losses"], rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(got.predictions, ref["predictions"])
    for l in range(len(net.layers)):
        np.testing.assert_array_equal(got.spikes[l + 1], ref["spikes"][l])
    np.testing.assert_allclose(got.grad, ref["grad"], rtol=1e-9, atol=1e-12)
