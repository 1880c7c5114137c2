"""Tests of the slow reference simulator (tests/reference_sim.py) itself."""

import glob
import math
import os
import sys

import numpy as np
import pytest
import scipy.linalg

sys.path.insert(0, os.path.dirname(__file__))
import reference_sim as rs  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "data")
FILES = sorted(glob.glob(os.path.join(DATA, "*.npz")))

BASE = dict(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_rest=0.0, v_th=15.0, v_reset=0.0,
            t_ref=2.0)
EMPTY_I = np.zeros(0, dtype=np.int64)
EMPTY_F = np.zeros(0, dtype=np.float64)


def run(n, params, T, inputs=(), rec=(), **kw):
    """inputs: list of (time, neuron, weight) delivered directly (delay folded into a 1-source
    each); rec: list of (pre, post, w, delay)."""
    in_times, in_ids, in_pre, in_post, in_w, in_delay = [], [], [], [], [], []
    for s, (t, post, w) in enumerate(inputs):
        in_times.append(t - 0.5)
        in_ids.append(s)
        in_pre.append(s)
        in_post.append(post)
        in_w.append(w)
        in_delay.append(0.5)
    rec = list(rec)
    return rs.simulate(
        n, params, np.array(in_times, float), np.array(in_ids, np.int64),
        np.array(in_pre, np.int64), np.array(in_post, np.int64), np.array(in_w, float),
        np.array(in_delay, float),
        np.array([r[0] for r in rec], np.int64), np.array([r[1] for r in rec], np.int64),
        np.array([r[2] for r in rec], float), np.array([r[3] for r in rec], float), T, **kw)


# ---------------------------------------------------------------------------- NEST reference files

def test_files_present():
    assert len(FILES) == 12


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(f) for f in FILES])
def test_nest_reference(path):
    d = dict(np.load(path))
    t, i = rs.simulate_npz(d)
    ot, oi = d["out_times"], d["out_ids"]
    assert t.dtype == np.float64 and i.dtype == np.int64
    for j in range(int(d["n"])):
        assert np.sum(i == j) == np.sum(oi == j), f"neuron {j}"
    assert np.array_equal(i, oi)
    assert np.max(np.abs(t - ot)) <= 1e-9
    if "delta" in os.path.basename(path):
        assert np.array_equal(t, ot)  # exact ties on dyadic grids


def test_nest_refractory_boundary_is_open():
    """NEST applies a delta input arriving exactly at t_spike + t_ref; discarding it breaks the files."""
    bad = 0
    for path in FILES:
        if "delta" not in os.path.basename(path):
            continue
        d = dict(np.load(path))
        t, i = rs.simulate_npz(d, refractory_closed=True)
        if len(t) != len(d["out_times"]) or not np.array_equal(i, d["out_ids"]):
            bad += 1
            break
    assert bad >= 1


# ---------------------------------------------------------------------------- analytic checks

@pytest.mark.parametrize("tau_in,i_bias,t_ref,v_reset", [(20.0, 20.0, 2.0, 0.0), (10.0, 12.0, 0.5, 5.0),
                                                         (5.0, 4.0, 0.0, -3.0)])
def test_dc_periodic_firing(tau_in, i_bias, t_ref, v_reset):
    p = dict(BASE, tau_in=tau_in, i_bias=i_bias, t_ref=t_ref, v_reset=v_reset)
    v_inf = p["v_rest"] + i_bias * p["tau_m"] / tau_in
    assert v_inf > p["v_th"]
    first = p["tau_m"] * math.log((v_inf - p["v_rest"]) / (v_inf - p["v_th"]))
    period = t_ref + p["tau_m"] * math.log((v_inf - v_reset) / (v_inf - p["v_th"]))
    T = 300.0
    t, i = run(2, p, T)  # two identical neurons
    expect = first + period * np.arange(int((T - first) / period) + 1)
    assert np.all(i[0::2] == 0) and np.all(i[1::2] == 1)
    assert len(t) == 2 * len(expect)
    np.testing.assert_allclose(t[0::2], expect, rtol=0, atol=1e-9)
    np.testing.assert_allclose(t[1::2], expect, rtol=0, atol=1e-9)


@pytest.mark.parametrize("tau_m,tau_s,tau_in", [(20.0, 5.0, 20.0), (10.0, 2.0, 4.0), (5.0, 10.0, 5.0)])
def test_exp_psp_peak(tau_m, tau_s, tau_in):
    p = dict(BASE, tau_m=tau_m, tau_syn_exc=tau_s, tau_in=tau_in, v_th=1e3)
    w = 3.0
    t_pk = tau_m * tau_s / (tau_m - tau_s) * math.log(tau_m / tau_s)
    v_pk = w / tau_in * tau_m * tau_s / (tau_m - tau_s) * (math.exp(-t_pk / tau_m) - math.exp(-t_pk / tau_s))
    V, Ie, Ii = rs.free_trajectory(p, (0.0, w, 0.0), t_pk)
    assert abs(V - v_pk) <= 1e-10
    assert abs(Ie - w * math.exp(-t_pk / tau_s)) <= 1e-12
    # derivative zero at the peak
    h = 1e-4
    Vp = rs.free_trajectory(p, (0.0, w, 0.0), t_pk + h)[0]
    Vm = rs.free_trajectory(p, (0.0, w, 0.0), t_pk - h)[0]
    assert Vp < V and Vm < V
    # through simulate(): a threshold just under the peak is crossed (grazing), just above is not
    t0 = 3.0
    for eps, n_expect in [(1e-7, 1), (-1e-7, 0)]:
        q = dict(p, v_th=v_pk - eps)
        t, i = run(1, q, 100.0, inputs=[(t0, 0, w)])
        assert len(t) == n_expect
        if n_expect:
            assert t0 < t[0] < t0 + t_pk
            assert abs(t[0] - (t0 + t_pk)) < 0.1


def test_exp_psp_equal_time_constants():
    tau = 10.0
    p = dict(BASE, tau_m=tau, tau_syn_exc=tau, tau_in=tau)
    w = 2.0
    for t in (0.5, tau, 37.0):
        V = rs.free_trajectory(p, (0.0, w, 0.0), t)[0]
        assert abs(V - w / tau * t * math.exp(-t / tau)) <= 1e-12


@pytest.mark.parametrize("tau_in,i_bias,v_rest", [(10.0, 3.0, 0.0), (4.0, 1.5, -5.0)])
def test_non_leaky_bias(tau_in, i_bias, v_rest):
    p = dict(BASE, tau_m=math.inf, tau_in=tau_in, i_bias=i_bias, v_rest=v_rest, v_reset=v_rest)
    first = (p["v_th"] - v_rest) * tau_in / i_bias
    period = p["t_ref"] + (p["v_th"] - p["v_reset"]) * tau_in / i_bias
    T = 400.0
    t, i = run(1, p, T)
    expect = first + period * np.arange(int((T - first) / period) + 1)
    assert len(t) == len(expect)
    np.testing.assert_allclose(t, expect, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------- event semantics

DELTA = dict(BASE, tau_syn_exc=0.0, tau_syn_inh=0.0)


def test_simultaneous_inputs_applied_before_threshold():
    # V jumps to 14, then +2 and -2 at the same instant: never reaches 15, in either order
    for inputs in ([(1.0, 0, 14.0), (2.0, 0, 2.0), (2.0, 0, -2.0)],
                   [(1.0, 0, 14.0), (2.0, 0, -2.0), (2.0, 0, 2.0)]):
        t, i = run(1, dict(DELTA, tau_m=math.inf, tau_in=10.0), 10.0, inputs=inputs)
        assert len(t) == 0
    t, i = run(1, dict(DELTA, tau_m=math.inf, tau_in=10.0), 10.0, inputs=[(1.0, 0, 14.0), (2.0, 0, 2.0)])
    assert np.array_equal(t, [2.0])


def test_delta_refractory_discard_and_boundary():
    p = dict(DELTA, tau_m=math.inf, tau_in=10.0, t_ref=2.0)
    base = [(1.0, 0, 20.0)]  # spike at 1, refractory until 3
    t, _ = run(1, p, 10.0, inputs=base + [(2.0, 0, 20.0)])
    assert np.array_equal(t, [1.0])  # discarded
    t, _ = run(1, p, 10.0, inputs=base + [(3.0, 0, 20.0)])
    assert np.array_equal(t, [1.0, 3.0])  # NEST convention: applied at the boundary
    t, _ = run(1, p, 10.0, inputs=base + [(3.0, 0, 20.0)], refractory_closed=True)
    assert np.array_equal(t, [1.0])


def test_exp_input_integrated_while_refractory():
    p = dict(BASE, tau_m=math.inf, tau_syn_exc=1.0, tau_in=1.0, t_ref=5.0)
    # delta-like kick: big exp input makes it spike; a second input during refractoriness still
    # charges I_exc, which then drives V over threshold after refractoriness ends
    t1, _ = run(1, p, 30.0, inputs=[(1.0, 0, 100.0), (1.5, 0, 5000.0)])
    t2, _ = run(1, p, 30.0, inputs=[(1.0, 0, 100.0)])
    assert len(t2) == 1 and len(t1) >= 2
    # first spike: V = 100 (1 - e^{-(t-1)}) = 15
    assert abs(t1[0] - (1.0 - math.log(1.0 - 15.0 / 100.0))) < 1e-9
    # tau_m = inf, tau_in = tau_s = 1: V = v_reset + I(t_end) (1 - e^{-h}) after refractoriness
    I_end = 100.0 * math.exp(-(t1[0] + 5.0 - 1.0)) + 5000.0 * math.exp(-(t1[0] + 5.0 - 1.5))
    h = -math.log(1.0 - 15.0 / I_end)
    assert abs(t1[1] - (t1[0] + 5.0 + h)) < 1e-9


def test_order_independence_and_recurrent():
    rng = np.random.default_rng(1)
    p = dict(BASE, tau_syn_exc=2.0, tau_syn_inh=4.0, i_bias=12.0, t_ref=1.0)
    n, n_in, T = 6, 4, 60.0
    in_times = np.sort(rng.uniform(0, T, 60))
    in_ids = rng.integers(0, n_in, 60)
    in_pre = np.repeat(np.arange(n_in), 3)
    in_post = rng.integers(0, n, len(in_pre))
    in_w = rng.uniform(-10, 30, len(in_pre))
    in_delay = rng.uniform(0.1, 2, len(in_pre))
    rec_pre = rng.integers(0, n, 15)
    rec_post = rng.integers(0, n, 15)
    rec_w = rng.uniform(-8, 8, 15)
    rec_delay = rng.uniform(0.2, 3, 15)
    a = rs.simulate(n, p, in_times, in_ids, in_pre, in_post, in_w, in_delay,
                    rec_pre, rec_post, rec_w, rec_delay, T)
    assert len(a[0]) > 10
    ps, pr = rng.permutation(len(in_pre)), rng.permutation(len(rec_pre))
    b = rs.simulate(n, p, in_times, in_ids, in_pre[ps], in_post[ps], in_w[ps], in_delay[ps],
                    rec_pre[pr], rec_post[pr], rec_w[pr], rec_delay[pr], T)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-12)
    c = rs.simulate(n, p, in_times, in_ids, in_pre, in_post, in_w, in_delay,
                    rec_pre, rec_post, rec_w, rec_delay, T, prune=False)
    np.testing.assert_array_equal(a[1], c[1])
    np.testing.assert_allclose(a[0], c[0], rtol=0, atol=1e-12)


def test_v0_and_T_cutoff():
    p = dict(DELTA, tau_m=math.inf, tau_in=10.0)
    t, i = run(3, p, 5.0, v0=np.array([0.0, 14.0, 15.0]), inputs=[(5.0, 1, 1.0), (5.5, 0, 20.0)])
    assert np.array_equal(t, [0.0, 5.0]) and np.array_equal(i, [2, 1])


def test_expm_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = dict(BASE, tau_m=float(rng.choice([5.0, 20.0, math.inf])), tau_syn_exc=float(rng.choice([0.0, 2.0, 20.0])),
                 tau_syn_inh=float(rng.choice([0.0, 5.0])), tau_in=10.0, i_bias=float(rng.uniform(-5, 5)))
        A = rs._Model(p).A
        h = float(10 ** rng.uniform(-6, 2.5))
        R = scipy.linalg.expm(A * h)
        assert np.max(np.abs(rs.expm(A * h) - R)) <= 1e-12 * max(1.0, np.max(np.abs(R)))
