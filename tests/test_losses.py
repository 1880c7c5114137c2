"""Losses: values and partial derivatives against closed forms, silent-output and tie
conventions, bad parameters."""
import math

import numpy as np
import pytest

from eventsnn.gradients import CountBounds, FirstSpikeCE, MaxVoltageCE, SpikeTimeMSE
from eventsnn.gradients.losses import FS_CE, MSE, VMAX_CE, sample_loss

T_END = 50.0


def _call(code, lp, label, out_times, hidden_times=(), reg=(0.0, 0.0, 0.0), reg_pop=(1, 0), vmax=None):
    """Run sample_loss on a hand-made record: hidden layer of 2 neurons (ids 0, 1),
    output layer of len(out_times) neurons; out_times[i] is a list of spike times."""
    n_out = len(out_times)
    N = 2 + n_out
    pop_off = np.array([0, 2, N], np.int64)
    neuron_pop = np.array([0, 0] + [1] * n_out, np.int64)
    sp = [(t, n) for n, ts in hidden_times for t in ts] + [(t, 2 + i) for i, ts in enumerate(out_times) for t in ts]
    sp.sort()
    sp_t = np.array([t for t, _ in sp] or [0.0])
    sp_n = np.array([n for _, n in sp] or [0], np.int64)
    ns = len(sp)
    first = np.full(N, -1, np.int64)
    for k in range(ns - 1, -1, -1):
        first[sp_n[k]] = k
    vm = np.zeros(N) if vmax is None else np.concatenate([[0.0, 0.0], vmax])
    dl_dt = np.full(max(ns, 1), np.nan)
    dl_dv = np.full(N, np.nan)
    loss, pred, corr = sample_loss(code, np.asarray(lp, float), np.asarray(reg, float), np.asarray(reg_pop, np.int64),
                                   T_END, label, sp_t, sp_n, ns, first, vm, pop_off, neuron_pop, 1, dl_dt, dl_dv)
    return loss, pred, corr, dl_dt[:ns], dl_dv[2:], sp_t[:ns], sp_n[:ns]


def test_first_spike_ce_closed_form():
    tau0, tau1, alpha = 0.5, 6.4, 3e-3
    t = np.array([12.0, 10.5, 14.0])
    loss, pred, corr, g, _, st, sn = _call(FS_CE, [tau0, tau1, alpha], 0, [[t[0], 30.0], [t[1]], [t[2]]])
    p = np.exp(-t / tau0) / np.exp(-t / tau0).sum()
    assert loss == pytest.approx(-math.log(p[0]) + alpha * (math.exp(t[0] / tau1) - 1), rel=1e-13)
    assert pred == 1 and not corr
    first = {2: 0, 3: 1, 4: 2}
    for k in range(len(st)):
        n = sn[k]
        if st[k] == 30.0:   # a later spike of the label neuron: not in the loss
            assert g[k] == 0.0
            continue
        i = n - 2
        exp_d = (1.0 if i == 0 else 0.0) / tau0 - p[i] / tau0 + (alpha / tau1 * math.exp(t[0] / tau1) if i == 0 else 0)
        assert g[k] == pytest.approx(exp_d, rel=1e-12), first


def test_first_spike_ce_matches_numeric_derivative():
    lp = [0.5, 6.4, 3e-3]
    t = [11.0, 10.7, 12.2]
    _, _, _, g, _, st, sn = _call(FS_CE, lp, 2, [[x] for x in t])
    for i in range(3):
        tp = list(t)
        tm = list(t)
        tp[i] += 1e-6
        tm[i] -= 1e-6
        fd = (_call(FS_CE, lp, 2, [[x] for x in tp])[0] - _call(FS_CE, lp, 2, [[x] for x in tm])[0]) / 2e-6
        k = int(np.nonzero(sn == 2 + i)[0][0])
        assert g[k] == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_silent_outputs_and_ties():
    lp = [0.5, 6.4, 3e-3]
    # silent label: counts as t_end, finite loss, no gradient for it, never correct
    loss, pred, corr, g, _, st, sn = _call(FS_CE, lp, 0, [[], [20.0], [25.0]])
    assert math.isfinite(loss) and pred == 1 and not corr
    t = np.array([T_END, 20.0, 25.0])
    p = np.exp(-t / 0.5) / np.exp(-t / 0.5).sum()
    assert loss == pytest.approx(-math.log(p[0]) + 3e-3 * (math.exp(T_END / 6.4) - 1), rel=1e-12)
    assert g[sn == 3][0] == pytest.approx(-p[1] / 0.5, rel=1e-12)
    # all silent: prediction -1, not correct, gradient all zero (no spikes)
    loss, pred, corr, g, _, _, _ = _call(FS_CE, lp, 1, [[], [], []])
    assert pred == -1 and not corr and math.isfinite(loss) and g.size == 0
    assert loss == pytest.approx(math.log(3.0) + 3e-3 * (math.exp(T_END / 6.4) - 1), rel=1e-12)
    # ties count as correct
    _, pred, corr, _, _, _, _ = _call(FS_CE, lp, 2, [[10.0], [12.0], [10.0]])
    assert pred == 0 and corr
    _, _, corr, _, _, _, _ = _call(VMAX_CE, [1.0], 1, [[], [], []], vmax=np.array([0.7, 0.7, 0.1]))
    assert corr


def test_max_voltage_ce():
    v = np.array([0.2, 0.9, -0.3])
    loss, pred, corr, _, dv, _, _ = _call(VMAX_CE, [2.0], 2, [[], [], []], vmax=v)
    z = 2.0 * v
    p = np.exp(z) / np.exp(z).sum()
    assert loss == pytest.approx(-math.log(p[2]), rel=1e-13)
    np.testing.assert_allclose(dv, 2.0 * (p - [0, 0, 1]), rtol=1e-13)
    assert pred == 1 and not corr


def test_spike_time_mse():
    loss, pred, corr, g, _, st, sn = _call(MSE, [8.0, 20.0, 2.0], 1, [[21.0], [9.0], []])
    r = np.array([(21.0 - 20.0) / 2, (9.0 - 8.0) / 2, (T_END - 20.0) / 2])
    assert loss == pytest.approx(0.5 * (r ** 2).sum(), rel=1e-13)
    assert g[sn == 2][0] == pytest.approx(r[0] / 2.0) and g[sn == 3][0] == pytest.approx(r[1] / 2.0)
    assert pred == 1 and corr


def test_count_bounds():
    # hidden neuron 0 fires 3 spikes (> c_max = 2), neuron 1 fires once (< c_min = 2)
    hidden = [(0, [1.0, 2.0, 3.0]), (1, [4.0])]
    base = _call(MSE, [8.0, 20.0, 1.0], 0, [[8.0], [20.0]], hidden)[0]
    loss, _, _, g, _, st, sn = _call(MSE, [8.0, 20.0, 1.0], 0, [[8.0], [20.0]], hidden, reg=(0.5, 2, 2))
    c = 0.5 / T_END
    assert loss - base == pytest.approx(c * ((T_END - 1) + (T_END - 2) + (T_END - 3) + 4.0), rel=1e-12)
    np.testing.assert_allclose(g[sn == 0], -c)
    np.testing.assert_allclose(g[sn == 1], c)
    assert (g[sn >= 2] == 0).all()          # outputs are not regularised (reg_pop = (1, 0))
    # neurons within bounds cost nothing
    loss2 = _call(MSE, [8.0, 20.0, 1.0], 0, [[8.0], [20.0]], hidden, reg=(0.5, 1, 3))[0]
    assert loss2 == base


@pytest.mark.parametrize("make,msg", [
    (lambda: FirstSpikeCE(tau0=0.0), "tau0"),
    (lambda: FirstSpikeCE(alpha=-1.0), "alpha"),
    (lambda: MaxVoltageCE(scale=-1.0), "scale"),
    (lambda: SpikeTimeMSE(scale=0.0), "scale"),
    (lambda: CountBounds(c_min=3, c_max=2), "c_max"),
    (lambda: CountBounds(layers="some"), "layers"),
    (lambda: CountBounds(beta=float("nan")), "beta"),
])
def test_bad_parameters(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()
    with pytest.raises(TypeError, match="tau0"):
        FirstSpikeCE(tau0="1")
