"""EventProp: exact gradients against the implicit-function theorem and central finite
differences, exact zeros, the forward pass against the event engine, grazing spikes,
operation counts."""
import math

import numpy as np
import pytest

from eventsnn.encoding import SpikeInput
from eventsnn.gradients import (SNN, CountBounds, EventPropCounts, FirstSpikeCE, MaxVoltageCE, SpikeTimeMSE,
                                evaluate, loss_and_grad, simulate)
from eventsnn.models import psi

EPS = 1e-6


def _one(times, ids, n_inputs):
    """A one-sample SpikeInput (times sorted)."""
    t = np.asarray(times, float)
    i = np.asarray(ids, np.int32)
    o = np.lexsort((i, t))
    return SpikeInput(np.array([0, t.size], np.int64), t[o].copy(), i[o].copy(), n_inputs)


# ---------------------------------------------------------------------------
# analytic: one neuron, one input spike
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("tau_m,tau_s", [(20.0, 5.0), (10.0, 10.0), (5.0, 20.0)])
def test_single_neuron_implicit_function_theorem(tau_m, tau_s):
    """L = t* (first spike of the only neuron): dt*/dw = -(dV/dw)/(dV/dt) at t*, with
    dV/dw = g psi(g, s, t* - t_in) and dV/dt = g (I(t*) - theta); dt*/dt_in = 1."""
    net = SNN([1, 1], tau_m=tau_m, tau_s=tau_s, theta=1.0, t_end=200.0, init=[(0.0, 0.0)])
    w = 3.0 * 1.0 / net.psp_peak(1)       # 3x the threshold PSP: one clean crossing
    net.weights[0][0, 0] = w
    t_in = 2.5
    inp = _one([t_in], [0], 1)
    loss = SpikeTimeMSE(t_correct=0.0, t_wrong=0.0, scale=1.0)   # L = t*^2 / 2
    tr = simulate(net, inp)
    tk = tr.times[tr.neurons == 0][0]
    g, s = 1.0 / tau_m, 1.0 / tau_s
    x = tk - t_in
    assert w * g * psi(g, s, x) == pytest.approx(1.0, abs=1e-12)   # the crossing is exact
    ik = w * math.exp(-s * x)
    assert tr.currents[tr.neurons == 0][0] == pytest.approx(ik, rel=1e-13)
    dt_dw = -(g * psi(g, s, x)) / (g * (ik - 1.0))
    r = loss_and_grad(net, inp, np.array([0]), loss, graze=0.0)
    assert r.grad[0] == pytest.approx(tk * dt_dw, rel=1e-10)
    assert r.input_grad[0] == pytest.approx(tk * 1.0, rel=1e-10)


def test_delay_shifts_time_not_gradient():
    net = SNN([1, 1], t_end=200.0, init=[(0.0, 0.0)], delay=3.0)
    net.weights[0][0, 0] = 20.0
    inp = _one([1.0], [0], 1)
    loss = SpikeTimeMSE(0.0, 0.0)
    r = loss_and_grad(net, inp, np.array([0]), loss)
    tk = simulate(net, inp).times[1]
    net2 = SNN([1, 1], t_end=200.0, init=[(0.0, 0.0)], delay=0.0)
    net2.weights[0][0, 0] = 20.0
    tk2 = simulate(net2, _one([4.0], [0], 1)).times[1]
    assert tk == pytest.approx(tk2, abs=1e-12)
    r2 = loss_and_grad(net2, _one([4.0], [0], 1), np.array([0]), loss)
    assert r.grad[0] == pytest.approx(r2.grad[0], rel=1e-12)


# ---------------------------------------------------------------------------
# finite differences on 50 random small networks
# ---------------------------------------------------------------------------

def _random_case(k):
    """Network k of the finite-difference suite: even k feed-forward two-layer (hidden
    neurons fire several spikes), odd k recurrent; every fifth a voltage read-out,
    every third with feed-forward delays."""
    rng = np.random.default_rng(1000 + k)
    n_in = int(rng.integers(3, 6))
    n_h = int(rng.integers(4, 8))
    n_out = 3
    rec = k % 2 == 1
    voltage = k % 5 == 4
    delays = [0.0, float(rng.uniform(0.2, 2.0))] if k % 3 == 0 else 0.0
    tau_m = float(rng.choice([20.0, 10.0, 8.0]))
    tau_s = float(rng.choice([5.0, 10.0, 2.5])) if k % 7 else tau_m   # tau_m == tau_s too
    net = SNN([n_in, n_h, n_out], tau_m=tau_m, tau_s=[tau_s, float(rng.choice([5.0, 3.0]))], theta=1.0,
              output="voltage" if voltage else "spike", recurrent=rec, rec_delay=float(rng.uniform(0.5, 2.0)),
              delay=delays, t_end=40.0, seed=k,
              init=None)
    kap1, kap2 = net.psp_peak(1), net.psp_peak(2)
    # strong input drive: hidden neurons fire bursts of several spikes
    net.weights[0][...] = rng.normal(4.0 / kap1 / n_in, 1.0 / kap1, net.weights[0].shape)
    q = 1
    if rec:
        net.weights[1][...] = rng.normal(0.0, 0.15 / kap1, net.weights[1].shape)
        q = 2
    net.weights[q][...] = rng.normal(1.5 / kap2 / n_h * 2.0, 0.8 / kap2, net.weights[q].shape)
    times = rng.uniform(0.0, 15.0, n_in)
    inp = _one(times, np.arange(n_in), n_in)
    label = np.array([int(rng.integers(0, n_out))])
    if voltage:
        loss = MaxVoltageCE(scale=1.0)
    elif k % 4 == 2:
        loss = SpikeTimeMSE(t_correct=8.0, t_wrong=20.0, scale=5.0)
    else:
        loss = FirstSpikeCE()
    # hidden spike times enter the loss through the count-bounds terms
    reg = CountBounds(beta=0.5, c_min=0, c_max=1) if k % 2 == 0 else CountBounds(beta=0.5, c_min=10, c_max=10)
    return net, inp, label, loss, reg


def _fd_check(net, inp, label, loss, reg):
    r = loss_and_grad(net, inp, label, loss, regularizer=reg, graze=0.0)
    counts0 = r.spike_counts
    p0 = net.params.copy()
    n_checked = 0
    n_skipped = 0

    def ev(x=inp):
        e = evaluate(net, x, label, loss, regularizer=reg)
        return e.loss, e.spike_counts

    def moved(j, dt):
        """inp with input spike j moved by dt ms (a SpikeInput is read-only)."""
        t = inp.times.copy()
        t[j] += dt
        return SpikeInput(inp.ptr, t, inp.ids, inp.n_inputs)

    def compare(fd, an, what):
        assert abs(fd - an) <= max(1e-6, 1e-5 * abs(fd)), f"{what}: finite difference {fd!r}, EventProp {an!r}"

    try:
        for i in range(net.n_params):
            net.params[i] = p0[i] + EPS
            lp, cp = ev()
            net.params[i] = p0[i] - EPS
            lm, cm = ev()
            net.params[i] = p0[i]
            if not (np.array_equal(cp, counts0) and np.array_equal(cm, counts0)):
                n_skipped += 1
                continue
            compare((lp - lm) / (2 * EPS), r.grad[i], f"weight {i}")
            n_checked += 1
        for j in range(inp.times.size):
            lp, cp = ev(moved(j, EPS))
            lm, cm = ev(moved(j, -EPS))
            if not (np.array_equal(cp, counts0) and np.array_equal(cm, counts0)):
                n_skipped += 1
                continue
            compare((lp - lm) / (2 * EPS), r.input_grad[j], f"input spike {j}")
            n_checked += 1
    finally:
        net.params[:] = p0
    return r, n_checked, n_skipped


@pytest.mark.parametrize("k", range(50))
def test_gradient_matches_finite_differences(k):
    net, inp, label, loss, reg = _random_case(k)
    r, n_checked, n_skipped = _fd_check(net, inp, label, loss, reg)
    tr = simulate(net, inp)
    hid = tr.neurons[(tr.neurons >= 0) & (tr.neurons < net.sizes[1])]
    # the case is meaningful: hidden neurons fire, some several times, and most
    # entries are checked
    assert hid.size >= 2
    assert np.bincount(hid).max() >= 2
    assert n_checked >= 0.8 * (n_checked + n_skipped)
    if net.output == "spike":
        assert (tr.neurons >= net.sizes[1]).any()
    assert np.any(r.grad != 0.0)


# ---------------------------------------------------------------------------
# exact zeros
# ---------------------------------------------------------------------------

def test_zero_gradient_into_silent_neurons_and_after_last_relevant_spike():
    net = SNN([3, 4, 2], t_end=100.0, init=[(0.0, 0.0), (0.0, 0.0)])
    k1 = net.psp_peak(1)
    W1 = net.weights[0]
    W1[:, 0] = [2.0 / k1, 0.5 / k1, 0.0]   # fires (driven by input 0 at t=1)
    W1[:, 1] = [0.1 / k1, 0.1 / k1, 0.1 / k1]   # never fires
    W1[:, 2] = [-1.0, 0.2, 0.3]                 # never fires
    W1[:, 3] = [1.0 / k1, 1.0 / k1, 0.0]        # fires
    net.weights[1][...] = 3.0 / net.psp_peak(2)
    # input 2 arrives at 90 ms, after every output's first spike (the only spikes the
    # loss uses): it cannot matter
    inp = _one([1.0, 2.0, 90.0], [0, 1, 2], 3)
    r = loss_and_grad(net, inp, np.array([0]), FirstSpikeCE())
    tr = simulate(net, inp)
    fired = set(tr.neurons[tr.neurons >= 0].tolist())
    assert 0 in fired and 3 in fired and 1 not in fired and 2 not in fired
    assert (r.grads[0][:, 1] == 0.0).all() and (r.grads[0][:, 2] == 0.0).all()
    assert (r.grads[1][1, :] == 0.0).all() and (r.grads[1][2, :] == 0.0).all()
    out_first = max(tr.times[tr.neurons == 4].min(), tr.times[tr.neurons == 5].min())
    assert out_first < 90.0
    assert r.input_grad[2] == 0.0
    assert r.grads[0][2, 0] == 0.0 and r.grads[0][2, 3] == 0.0
    assert r.input_grad[0] != 0.0 and r.grads[0][0, 0] != 0.0


# ---------------------------------------------------------------------------
# forward pass = event engine
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rec", [False, True])
def test_forward_equals_event_engine(rec):
    rng = np.random.default_rng(5)
    net = SNN([5, 30, 12, 3], tau_m=[20.0, 10.0, 8.0], tau_s=[5.0, 10.0, 2.0], theta=1.0, t_end=80.0, seed=2,
              delay=[0.0, 0.5, 1.3], recurrent=rec, rec_delay=0.7)
    for b in range(4):
        times = rng.uniform(0.0, 30.0, 5)
        inp = _one(times, np.arange(5), 5)
        tr = simulate(net, inp)
        enet, _ = net.to_network(inp.times, inp.ids)
        res = enet.run(net.t_end)
        m = tr.neurons >= 0
        o = np.lexsort((tr.neurons[m], tr.times[m]))
        assert len(res.spikes.times) == m.sum() > 10
        np.testing.assert_array_equal(tr.neurons[m][o], res.spikes.ids)
        np.testing.assert_allclose(tr.times[m][o], res.spikes.times, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------
# grazing spikes
# ---------------------------------------------------------------------------

def test_grazing_spike_gradient_is_zeroed_not_exploding():
    """Choose w so that the neuron's PSP peak exceeds theta by 1e-9: I - theta at the
    crossing is ~1e-4 and the exact jump is ~1e4 times larger than for a clean spike.
    With the guard (graze > (I - theta)/theta) the spike's jump is zeroed and counted."""
    net = SNN([1, 1], tau_m=20.0, tau_s=5.0, theta=1.0, t_end=200.0, init=[(0.0, 0.0)])
    w = (1.0 + 1e-9) / net.psp_peak(1)
    net.weights[0][0, 0] = w
    inp = _one([0.0], [0], 1)
    loss = SpikeTimeMSE(0.0, 0.0)
    tr = simulate(net, inp)
    assert (tr.neurons == 0).sum() == 1
    ik = tr.currents[1]
    assert 0.0 < ik - 1.0 < 1e-3
    raw = loss_and_grad(net, inp, np.array([0]), loss, graze=0.0)
    assert abs(raw.grad[0]) > 1e4 and raw.counts.grazing == 0
    guarded = loss_and_grad(net, inp, np.array([0]), loss, graze=1e-3)
    assert guarded.grad[0] == 0.0 and guarded.input_grad[0] == 0.0
    assert guarded.counts.grazing == 1 and guarded.counts.jumps == 1
    # a clean spike is not touched by the guard
    net.weights[0][0, 0] = 3.0 / net.psp_peak(1)
    a = loss_and_grad(net, inp, np.array([0]), loss, graze=0.0)
    b = loss_and_grad(net, inp, np.array([0]), loss, graze=1e-3)
    assert a.grad[0] == b.grad[0] != 0.0 and b.counts.grazing == 0


# ---------------------------------------------------------------------------
# counts
# ---------------------------------------------------------------------------

def test_counts_by_hand():
    """Two inputs into two neurons, one of which fires once: every count by hand."""
    net = SNN([2, 2], t_end=100.0, init=[(0.0, 0.0)])
    net.weights[0][:, 0] = 0.8 / net.psp_peak(1)   # neuron 0 fires once (at 4.3 ms)
    net.weights[0][:, 1] = 0.1                      # neuron 1 stays silent
    inp = _one([1.0, 2.0], [0, 1], 2)
    r = loss_and_grad(net, inp, np.array([0]), SpikeTimeMSE(0.0, 0.0))
    c = r.counts
    tr = simulate(net, inp)
    assert (tr.neurons == 0).sum() == 1 and (tr.neurons == 1).sum() == 0
    assert isinstance(c, EventPropCounts)
    assert c.input_spikes == 2 and c.spikes == 1
    assert c.syn_events == 4                 # 2 arrivals x 2 targets
    assert c.state_advances == 4 + 1         # + neuron 0 at its spike
    # backward: neuron 1 never fires and no loss reads it, its adjoint stays exactly
    # zero and is skipped; neuron 0: its adjoint is zero until its spike's jump, then
    # two backward steps (spike -> arrival 2 -> arrival 1)
    assert c.grad_accumulations == 2 and c.jumps == 1 and c.grazing == 0 and c.kicks == 0
    assert c.adjoint_updates == 2
    assert r.grads[0][0, 1] == 0.0 and r.grads[0][1, 1] == 0.0
    assert c.queue_pops == c.queue_pushes
    assert c.stale_candidates == c.queue_pushes - 2 - 1   # 2 arrivals, 1 live candidate
    d = c.as_dict()
    assert set(d) >= {"adjoint_updates", "jumps", "grad_accumulations", "syn_events"}
    assert (c + c).spikes == 2


# ---------------------------------------------------------------------------
# voltage read-out
# ---------------------------------------------------------------------------

def test_voltage_maximum_closed_form():
    """One input of weight w at t_in into a leaky read-out: V_max = w g psi(g, s, x*)
    at x* = ln(s/g)/(s - g), and dV_max/dw = V_max / w."""
    net = SNN([1, 1], tau_m=20.0, tau_s=5.0, output="voltage", t_end=100.0, init=[(0.0, 0.0)])
    net.weights[0][0, 0] = 2.0
    inp = _one([3.0], [0], 1)
    tr = simulate(net, inp)
    g, s = 1 / 20.0, 1 / 5.0
    xs = math.log(s / g) / (s - g)
    assert tr.tmax[0] == pytest.approx(3.0 + xs, abs=1e-9)
    assert tr.vmax[0] == pytest.approx(2.0 * g * psi(g, s, xs), rel=1e-14)
    net2 = SNN([1, 2], tau_m=20.0, tau_s=5.0, output="voltage", t_end=100.0, init=[(0.0, 0.0)])
    net2.weights[0][0, :] = [2.0, 1.0]
    r = loss_and_grad(net2, inp, np.array([0]), MaxVoltageCE(scale=3.0))
    v = np.array([2.0, 1.0]) * g * psi(g, s, xs)
    p = np.exp(3.0 * v) / np.exp(3.0 * v).sum()
    dl_dv = 3.0 * (p - [1.0, 0.0])
    np.testing.assert_allclose(r.grads[0][0], dl_dv * v / [2.0, 1.0], rtol=1e-9)
    assert r.counts.kicks == 2
